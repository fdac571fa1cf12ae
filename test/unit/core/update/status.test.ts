import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statusEnvLines, updateStatus } from '../../../../agent/core/update/status.js';
import type { UpdateState } from '../../../../agent/core/update/machine.js';

const release = { version: '2.1.0', expires: '2099-01-01T00:00:00Z', payload: { url: 'p', size: 2000, sha512: 'a'.repeat(128), compression: 'none' as const } };

test('status of an idle, never-checked engine', () => {
  const s: UpdateState = { kind: 'IDLE', lastChecked: 0, failures: 0 };
  assert.deepEqual(updateStatus(s), { lastCheckedTime: 0, progress: 0, currentOperation: 'UPDATE_STATUS_IDLE', newVersion: '', newSize: 0 });
  assert.deepEqual(statusEnvLines(updateStatus(s)), ['LAST_CHECKED_TIME=0', 'PROGRESS=0', 'CURRENT_OP=UPDATE_STATUS_IDLE', 'NEW_VERSION=0.0.0', 'NEW_SIZE=0']);
});

test('status while downloading and once staged', () => {
  const d: UpdateState = { kind: 'DOWNLOADING', lastChecked: 1_700_000_000_500, failures: 0, release, target: 'B', bytesDone: 500, resumedFrom: 0, attempt: 1 };
  assert.deepEqual(updateStatus(d), { lastCheckedTime: 1_700_000_000, progress: 0.25, currentOperation: 'UPDATE_STATUS_DOWNLOADING', newVersion: '2.1.0', newSize: 2000 });
  const r: UpdateState = { kind: 'UPDATED_NEED_REBOOT', lastChecked: 0, failures: 0, release, target: 'B' };
  assert.deepEqual(statusEnvLines(updateStatus(r)), ['LAST_CHECKED_TIME=0', 'PROGRESS=1', 'CURRENT_OP=UPDATE_STATUS_UPDATED_NEED_REBOOT', 'NEW_VERSION=2.1.0', 'NEW_SIZE=2000']);
});
