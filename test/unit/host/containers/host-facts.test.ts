import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cgroupParentFor } from '../../../../agent/host/containers/host-facts.js';

test('cgroupParentFor: host-agent for the default state directory, one parent per other state directory', () => {
  assert.equal(cgroupParentFor('/var/lib/host-agent'), 'host-agent');
  const a = cgroupParentFor('/tmp/a/.sandbox/demo/state');
  assert.equal(a, `host-agent-${createHash('sha256').update('/tmp/a/.sandbox/demo/state').digest('hex').slice(0, 12)}`);
  assert.notEqual(a, cgroupParentFor('/tmp/b/.sandbox/demo/state'));
});
