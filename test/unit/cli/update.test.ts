import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { UpdateStatusDocument } from '../../../agent/api/agent1.js';
import { renderUpdateStatus } from '../../../agent/cli/verbs/update.js';
import { runCli } from '../../../agent/cli/run.js';

const BASE: UpdateStatusDocument = {
  lastCheckedTime: 1_767_225_600, // 2026-01-01T00:00:00Z
  progress: 0.25,
  currentOperation: 'UPDATE_STATUS_DOWNLOADING',
  newVersion: '2.0.0',
  newSize: 1024 ** 3,
  state: 'DOWNLOADING',
  enabled: true,
  currentVersion: '1.0.0',
  bootedSlot: 'A',
  server: 'https://updates.example.com/v1',
  group: 'stable',
  boot: { status: 'marked-good' },
};

test('human update status: operation, version and slot, channel, check time, progress', () => {
  const out = renderUpdateStatus(BASE, false, new Date('2026-01-01T00:05:00Z'));
  assert.match(out, /^● OS update: UPDATE_STATUS_DOWNLOADING$/m);
  assert.match(out, /Version: 1\.0\.0, booted from USR-A$/m);
  assert.match(out, /Boot check: marked good after a healthy boot$/m);
  assert.match(out, /Channel: stable at https:\/\/updates\.example\.com\/v1$/m);
  assert.match(out, /Last checked: 2026-01-01T00:00:00\.000Z \(5min ago\)$/m);
  assert.match(out, /New version: 2\.0\.0 \(1\.0 GiB\)$/m);
  assert.match(out, /Progress: 25\.0% of 1\.0 GiB$/m);
  assert.doesNotMatch(out, /\x1b/);
});

test('human update status: never checked, disabled, errors and a failed health check stand out', () => {
  const out = renderUpdateStatus({
    ...BASE, lastCheckedTime: 0, progress: 0, currentOperation: 'UPDATE_STATUS_IDLE', state: 'IDLE', newVersion: '', newSize: 0,
    enabled: false, disabledReason: 'this host has no A/B disk configured',
    boot: { status: 'health-failed', detail: 'required units failed: web.service', fellBackFrom: '1.5.0' },
    lastError: { code: 'update.bad-signature', message: 'bad', at: '2026-01-01T00:00:00.000Z' },
  }, true);
  assert.match(out, /Last checked: never/);
  assert.match(out, /disabled: this host has no A\/B disk configured/);
  assert.match(out, /\x1b\[31mNOT healthy: a reboot falls back to the other slot \(required units failed: web\.service\)/);
  assert.match(out, /Fell back: 1\.5\.0 did not boot/);
  assert.match(out, /Last error: \x1b\[31mbad \[update\.bad-signature\]/);
  assert.doesNotMatch(out, /New version/);
});

test('usage errors: a missing or unknown subverb, --format on other subverbs', async () => {
  const io = (): { out: string; err: string; stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream } => {
    const o = { out: '', err: '' } as { out: string; err: string; stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream };
    o.stdout = { write: (s: string) => ((o.out += s), true) } as unknown as NodeJS.WritableStream;
    o.stderr = { write: (s: string) => ((o.err += s), true) } as unknown as NodeJS.WritableStream;
    return o;
  };
  for (const argv of [['update'], ['update', 'frobnicate'], ['update', 'check', '--format=env']]) {
    const o = io();
    assert.equal(await runCli(argv, { stdout: o.stdout, stderr: o.stderr, env: {}, isTTY: false }), 2, argv.join(' '));
    assert.match(o.err, /agentctl: /);
  }
  const help = io();
  assert.equal(await runCli(['update', '--help'], { stdout: help.stdout, stderr: help.stderr, env: {}, isTTY: false }), 0);
  assert.match(help.out, /LAST_CHECKED_TIME, PROGRESS, CURRENT_OP, NEW_VERSION, NEW_SIZE/);
});
