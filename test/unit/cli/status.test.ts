import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AgentStatus } from '../../../agent/api/agent1.js';
import { renderStatus } from '../../../agent/cli/verbs/status.js';
import { humanDuration } from '../../../agent/cli/render/duration.js';
import { runCli } from '../../../agent/cli/run.js';

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
  assert.match(out, /^● host-agent 1\.2\.3 — running$/m);
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

function io() {
  let stdout = '';
  let stderr = '';
  return {
    stdout: { write: (s: string) => ((stdout += s), true) } as unknown as NodeJS.WritableStream,
    stderr: { write: (s: string) => ((stderr += s), true) } as unknown as NodeJS.WritableStream,
    env: {}, isTTY: false,
    out: () => stdout, err: () => stderr,
  };
}

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
