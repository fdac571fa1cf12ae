import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay } from '../../../agent/core/backoff.js';
import { AgentError, describeError, isAgentError } from '../../../agent/core/errors.js';

test('backoff doubles up to its ceiling', () => {
  const policy = { initialMs: 100, maxMs: 1000, factor: 2 };
  assert.deepEqual([0, 1, 2, 3, 4, 10].map((a) => backoffDelay(a, policy)), [100, 200, 400, 800, 1000, 1000]);
});

test('AgentError describes itself with subject and hint', () => {
  const e = new AgentError({ code: 'systemd.no-such-unit', message: 'no such unit', subject: 'x.service', hint: 'Write it first' });
  assert.equal(e.describe(), 'x.service: no such unit. Write it first');
  assert.equal(e.domain, 'systemd');
  assert.ok(isAgentError(e, 'systemd.no-such-unit'));
  assert.equal(describeError(new Error('plain')), 'plain');
  assert.deepEqual(e.toJSON(), { code: 'systemd.no-such-unit', message: 'no such unit', subject: 'x.service', hint: 'Write it first' });
});
