import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AgentStatus } from '../../../agent/api/agent1.js';
import { renderStatus, statusProblems } from '../../../agent/cli/verbs/status.js';
import { passFailures } from '../../../agent/cli/verbs/image-updates.js';
import { humanDuration } from '../../../agent/cli/render/duration.js';
import { runCli } from '../../../agent/cli/run.js';
import { captureIo as io } from '../../lib/cli-io.js';

const STATUS: AgentStatus = {
  version: '1.2.3', pid: 42, startedAt: '2026-01-01T00:00:00.000Z', uptimeSeconds: 3723, state: 'running',
  systemd: { bus: 'system', connected: true, version: '252' },
  config: { path: '/etc/host-agent/cloud-config.yaml', state: 'invalid', entries: [{ file: '/etc/x.yaml', line: 3, level: 'error', message: 'invalid value lol' }] },
  units: [
    { name: 'web.service', description: '', loadState: 'loaded', activeState: 'active', subState: 'running', mainPid: 7, nRestarts: 1, execMainStatus: 0, activeSince: '2026-01-01T00:00:00.000Z' },
    { name: 'bad.service', description: '', loadState: 'loaded', activeState: 'failed', subState: 'failed', mainPid: 0, nRestarts: 0, execMainStatus: 3 },
  ],
  update: {
    state: 'IDLE', enabled: true, currentVersion: '3.0.0', bootedSlot: 'A', group: 'stable', boot: { status: 'already-good' },
    lastCheckedTime: 0, progress: 0, currentOperation: 'UPDATE_STATUS_IDLE', newVersion: '', newSize: 0,
  },
};

test('human status: header, config errors with file and line, units table', () => {
  const out = renderStatus(STATUS, false, new Date('2026-01-01T00:02:00Z'));
  assert.match(out, /^● host-agent 1\.2\.3 — degraded$/m);
  assert.match(out, /^ {4}Failed: failed units: bad\.service$/m);
  assert.match(out, /^ {4}Failed: the configuration is invalid$/m);
  assert.match(out, /Uptime: 1h 2min/);
  assert.match(out, /systemd: 252 on the system bus/);
  assert.match(out, /Update: IDLE \(3\.0\.0 on USR-A\)/);
  assert.match(out, /\/etc\/x\.yaml: line 3: error: invalid value lol/);
  assert.match(out, /^web\.service\s+active\s+running\s+7\s+1\s+-\s+2min ago$/m);
  assert.match(out, /^bad\.service\s+failed\s+failed\s+-\s+0\s+3\s+-$/m);
  assert.doesNotMatch(out, /\x1b/);
  assert.match(renderStatus(STATUS, true), /\x1b\[31mfailed/);
});

test('human durations', () => {
  assert.equal(humanDuration(0), '0s');
  assert.equal(humanDuration(59), '59s');
  assert.equal(humanDuration(3600), '1h');
  assert.equal(humanDuration(90061), '1d 1h');
});


test('usage errors exit 2 with one line; help exits 0', async () => {
  for (const argv of [['nope'], ['status', '--frob'], ['status', 'x'], ['--frob']]) {
    const s = io();
    assert.equal(await runCli(argv, s), 2, argv.join(' '));
    assert.equal(s.err().trim().split('\n').length, 1);
    assert.match(s.err(), /^agentctl: /);
  }
  const h = io();
  assert.equal(await runCli(['--help'], h), 0);
  assert.match(h.out(), /status\s+Show the agent/);
  const none = io();
  assert.equal(await runCli([], none), 2);
});

test('degraded: what declared failed makes the header and the exit status; the last OS error and image rollback are shown', () => {
  const healthy: AgentStatus = { ...STATUS, config: { ...STATUS.config, state: 'ok', entries: [] }, units: [STATUS.units[0]!] };
  assert.deepEqual(statusProblems(healthy), []);
  assert.match(renderStatus(healthy, false), /— running$/m);
  assert.deepEqual(statusProblems({ ...healthy, containers: [{ name: 'web', kind: 'declared', image: 'x', unit: 'u', state: 'failed', activeState: 'failed', subState: 'failed', mainPid: 0, nRestarts: 0 }] }), ['failed containers: web']);
  assert.deepEqual(statusProblems({ ...healthy, systemd: { bus: 'system', connected: false } }), ['systemd is not connected']);
  const fullDisk = { ...healthy.config, lastApply: { at: '2026-01-01T00:00:00Z', source: 'files' as const, steps: [], problems: [], error: { code: 'disk.full', message: 'no space left' } } };
  assert.deepEqual(statusProblems({ ...healthy, config: fullDisk }), ['the last config apply failed (disk.full)']);
  const withErrors: AgentStatus = { ...healthy, update: { ...healthy.update, lastError: { code: 'update.download', message: 'download failed', at: '2026-01-01T00:01:00Z' } } };
  const rollback = { container: 'a', message: 'rolled back from 2.0.0 to 1.0.0: the unit failed, exit status 3', at: '2026-01-01T00:00:05Z' };
  const out = renderStatus({ ...withErrors, imageRollback: { ...rollback, output: ['starting', 'boom: missing config'] } }, false, new Date());
  assert.match(out, /last error: download failed \[update\.download\] at 2026-01-01T00:01:00Z/);
  assert.match(out, /^ {2}Rollback: a: rolled back from 2\.0\.0 to 1\.0\.0: the unit failed, exit status 3 at 2026-01-01T00:00:05Z; last output:\n {12}starting\n {12}boom: missing config$/m);
  assert.match(renderStatus({ ...withErrors, imageRollback: rollback }, false), /^ {2}Rollback: a: .* at 2026-01-01T00:00:05Z$/m);
  assert.match(renderStatus({ ...withErrors, imageRollback: { ...rollback, hidden: ['output'] } }, false), /^ {2}Rollback: a: .* at 2026-01-01T00:00:05Z; last output: \(hidden: run as root\)$/m);
  assert.doesNotMatch(renderStatus(withErrors, false), /Rollback:/);
});

test('update containers --now: a rollback or error of this pass is a failure, older ones are not', () => {
  const doc = {
    settleSeconds: 30,
    containers: [
      { name: 'old', image: 'x', failed: [], last: { result: 'rolled back', message: '', at: '2026-01-01T00:00:00.000Z' } },
      { name: 'new', image: 'y', failed: [], last: { result: 'rolled back', message: '', at: '2026-01-01T00:10:00.000Z' } },
      { name: 'err', image: 'z', failed: [], last: { result: 'error', message: '', at: '2026-01-01T00:10:00.000Z' } },
      { name: 'ok', image: 'w', failed: [], last: { result: 'updated', message: '', at: '2026-01-01T00:10:00.000Z' } },
    ],
  };
  assert.deepEqual(passFailures(doc, '2026-01-01T00:05:00.000Z'), ['new', 'err']);
});
