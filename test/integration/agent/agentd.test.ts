/**
 * agentd as a unit of a real (sandboxed) systemd manager, seen through agentctl and the
 * bus: readiness by bus name, status that follows unit state changes, StatusChanged,
 * SIGTERM, and agentctl's exit codes when the agent is absent or the input is wrong.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AgentStatus } from '../../../agent/api/agent1.js';
import { AGENT_BUS_NAME, AGENT_INTERFACE } from '../../../agent/api/agent1.js';
import { SystemdManager } from '../../../agent/host/systemd/manager.js';
import { addMatch, call } from '../../../agent/host/systemd/dbus.js';
import { startSandbox, type Sandbox } from '../../lib/sandbox.js';
import { agentctl, agentdUnit } from '../../lib/agent.js';
import { eventually } from '../../lib/eventually.js';

let sbx: Sandbox;
let systemd: SystemdManager;
const cleanups: Array<() => unknown> = [];

before(async () => {
  sbx = await startSandbox({ after: (fn) => cleanups.push(fn) });
  systemd = await SystemdManager.connect('session', sbx.env);
  await writeFile(join(sbx.unitDir, 'host-agent.service'), agentdUnit([`--config ${sbx.dir}/none.yaml`, `--config-dir ${sbx.dir}/none.d`, `--system-config-dir ${sbx.dir}/none.d`, `--state-dir ${sbx.dir}/state`, `--host-root ${sbx.dir}/root`, '--log-format=json']));
  await systemd.daemonReload();
});

after(async () => {
  systemd?.close();
  for (const fn of cleanups.reverse()) await fn();
});

async function nameHasOwner(): Promise<boolean> {
  const [owned] = await call(systemd.bus, {
    destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus',
    member: 'NameHasOwner', signature: 's', body: [AGENT_BUS_NAME],
  });
  return owned as boolean;
}

async function status(): Promise<AgentStatus> {
  const r = await agentctl(['status', '--json'], { env: sbx.env });
  // 0 healthy, 1 degraded (a managed unit failed): both print the status.
  assert.ok(r.code === 0 || r.code === 1, r.stderr);
  const doc = JSON.parse(r.stdout) as AgentStatus;
  assert.equal(r.code, doc.units.some((u) => u.activeState === 'failed') ? 1 : 0, 'exit 1 exactly when something failed');
  return doc;
}


test('agentctl without a running agent: one line, exit 3', async () => {
  const r = await agentctl(['status'], { env: sbx.env });
  assert.equal(r.code, 3);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr.trim().split('\n').length, 1);
  assert.match(r.stderr, /agentd is not running on the session bus/);
});

test('usage errors exit 2 with one line', async () => {
  for (const args of [['frobnicate'], ['status', '--bogus'], ['status', 'extra'], ['--bogus']]) {
    const r = await agentctl(args, { env: sbx.env });
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
  const help = await agentctl(['status', '--help'], { env: sbx.env });
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Usage: agentctl status \[--json\]/);
});

test('agentd as a Type=dbus unit is active only once it owns its name', async () => {
  assert.equal(await nameHasOwner(), false);
  await systemd.start('host-agent.service');
  // The start job finished: systemd saw the name, so it is owned right now.
  assert.equal(await nameHasOwner(), true);
  const unit = await systemd.unitStatus('host-agent.service');
  assert.equal(unit.activeState, 'active');
  const s = await status();
  assert.equal(s.pid, unit.mainPid);
  assert.equal(s.systemd.connected, true);
  assert.equal(s.systemd.bus, 'session');
  assert.equal(s.config.state, 'missing');
  assert.equal(s.update.state, 'IDLE');
});

test('status follows a managed unit through its state changes, with StatusChanged signals', async () => {
  const signals: AgentStatus[] = [];
  await addMatch(systemd.bus, `type='signal',interface='${AGENT_INTERFACE}',member='StatusChanged'`);
  systemd.bus.on('message', (m) => {
    if (m.member === 'StatusChanged') signals.push(JSON.parse(m.body[0] as string) as AgentStatus);
  });

  await writeFile(join(sbx.unitDir, 'managed-sleep.service'),
    '[Unit]\nDescription=managed sleeper\nX-HostAgent-Source=test\n[Service]\nExecStart=/bin/sleep 600\n');
  await systemd.daemonReload();
  await systemd.start('managed-sleep.service');
  const running = await eventually(status, (s) => s.units.some((u) => u.name === 'managed-sleep.service' && u.activeState === 'active'), 'the unit to show active');
  const pid = running.units.find((u) => u.name === 'managed-sleep.service')!.mainPid;
  assert.ok(pid > 0);

  await sbx.systemctl('kill', '--signal=KILL', 'managed-sleep.service');
  const failed = await eventually(status, (s) => s.units.some((u) => u.name === 'managed-sleep.service' && u.activeState === 'failed'), 'the unit to show failed');
  assert.equal(failed.units.find((u) => u.name === 'managed-sleep.service')!.execMainStatus, 9);
  await eventually(async () => signals.length, () => signals.some((s) => s.units.some((u) => u.activeState === 'failed')), 'a StatusChanged signal');

  const human = await agentctl(['status'], { env: sbx.env });
  assert.equal(human.code, 1, 'degraded: a managed unit failed');
  assert.match(human.stdout, /^● host-agent \S+ — degraded$/m);
  assert.match(human.stdout, /^ {4}Failed: failed units: managed-sleep\.service$/m);
  assert.match(human.stdout, /managed-sleep\.service\s+failed/);
  assert.doesNotMatch(human.stdout, /\x1b\[/, 'no colours when stdout is not a TTY');

  // Healthy again: running header, exit 0.
  await systemd.start('managed-sleep.service');
  await eventually(status, (s) => s.units.every((u) => u.activeState !== 'failed'), 'the unit to run again');
  const again = await agentctl(['status'], { env: sbx.env });
  assert.equal(again.code, 0, again.stdout);
  assert.match(again.stdout, /^● host-agent \S+ — running$/m);
});

test('SIGTERM: agentd releases its name and exits 0', async () => {
  await systemd.stop('host-agent.service');
  const unit = await systemd.unitStatus('host-agent.service');
  assert.equal(unit.activeState, 'inactive', 'a clean exit leaves the unit inactive, not failed');
  assert.equal(unit.execMainStatus, 0);
  assert.equal(await nameHasOwner(), false);
});
