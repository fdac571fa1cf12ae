/**
 * The update methods over D-Bus: a test composition serves the UpdateService through
 * AgentBusService on a bus configured like the system bus with our policy, and agentctl
 * (a child process) drives it: status in all three forms, check, apply with progress
 * signals, rollback refused, and the policy refusing UpdateApply to an unprivileged user.
 */
import { test, before, after } from 'node:test';
import type { ChildProcess } from 'node:child_process';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { AGENT_BUS_NAME, AGENT_INTERFACE, AGENT_METHODS, AGENT_OBJECT_PATH, type UpdateStatusDocument } from '../../../agent/api/agent1.js';
import { callMethod } from '../../../agent/host/bus/lean-client.js';
import { AgentBusService, type AgentHandlers } from '../../../agent/host/bus/service.js';
import { connectBus } from '../../../agent/host/systemd/dbus.js';
import { agentctl } from '../../lib/agent.js';
import { REPO } from '../../lib/repo.js';
import { startSystemLikeBus, type SystemLikeBus } from '../../lib/system-bus.js';
import { cgptAttributes, makeDisk } from '../../lib/disk.js';
import { tmpdir } from '../../lib/tmpdir.js';
import { eventually } from '../../lib/eventually.js';
import { makeKeys, makeWorld, type World } from '../update/helpers/world.js';
import { makeService, trustReleaseKey } from './helpers.js';

const NOBODY = 65534;
const cleanups: Array<() => unknown> = [];
const suite = { after: (fn: () => unknown) => cleanups.push(fn) };
let bus: SystemLikeBus;
let world: World;
let status: () => UpdateStatusDocument;

before(async () => {
  bus = await startSystemLikeBus(suite, [join(REPO, 'units/org.hostagent.Agent1.conf')]);
  const [template, keys] = await Promise.all([makeDisk(await tmpdir(suite), 8, 'template.img'), makeKeys(suite)]);
  world = await makeWorld(suite, template, keys, { throttleMs: 12 });
  await world.publish('2.0.0', { compression: 'none' });
  await trustReleaseKey(world);
  const { service } = makeService(suite, world, '1.0.0');
  status = () => service.status();
  // Only the update methods are served here; the others answer that they are not.
  const notHere = async (): Promise<unknown[]> => {
    throw new Error('not served by this test composition');
  };
  const handlers = {
    ...Object.fromEntries(Object.keys(AGENT_METHODS).map((m) => [m, notHere])),
    ...service.handlers(),
  } as AgentHandlers;
  const conn = await connectBus('system', bus.env);
  const served = await AgentBusService.start(conn, handlers);
  service.onChange((s) => served.emit('UpdateStatusChanged', JSON.stringify(s)));
  cleanups.push(() => conn.disconnect(), () => served.stop(), () => service.stop());
});

after(async () => {
  for (const fn of cleanups.reverse()) await fn();
});

test('update status for everyone: human, --json and the five KEY=value lines', async () => {
  const env = await agentctl(['update', 'status', '--format=env'], { env: bus.env, uid: NOBODY, gid: NOBODY });
  assert.equal(env.code, 0, env.stderr);
  assert.deepEqual(env.stdout.trim().split('\n'), [
    'LAST_CHECKED_TIME=0', 'PROGRESS=0', 'CURRENT_OP=UPDATE_STATUS_IDLE', 'NEW_VERSION=0.0.0', 'NEW_SIZE=0',
  ]);
  const json = await agentctl(['update', 'status', '--json'], { env: bus.env, uid: NOBODY, gid: NOBODY });
  const s = JSON.parse(json.stdout) as UpdateStatusDocument;
  assert.equal(s.state, 'IDLE');
  assert.equal(s.currentVersion, '1.0.0');
  assert.equal(s.enabled, true);
  const human = await agentctl(['update', 'status'], { env: bus.env });
  assert.match(human.stdout, /OS update: UPDATE_STATUS_IDLE/);
  assert.match(human.stdout, /Last checked: never/);
  const bad = await agentctl(['update', 'status', '--format=xml'], { env: bus.env });
  assert.equal(bad.code, 2);
});

test('the policy refuses UpdateApply to an unprivileged user, before it reaches the agent', async () => {
  const r = await agentctl(['update', 'apply'], { env: bus.env, uid: NOBODY, gid: NOBODY });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /UpdateApply was refused: Rejected send message/);
  assert.match(r.stderr, /^agentctl: access denied: run as root\. /);
  assert.equal((await cgptAttributes(world.disk.path, 'B')).priority, 0, 'nothing was written');
});

test('check, then apply over D-Bus with progress signals; rollback is refused with a reason', async () => {
  const check = await agentctl(['update', 'check'], { env: bus.env });
  assert.equal(check.code, 0, check.stderr);
  assert.match(check.stdout, /Update available: 2\.0\.0 \(3\.0 MiB\)/);

  const signals: UpdateStatusDocument[] = [];
  const [json] = await callMethod({
    bus: 'system', env: bus.env, destination: AGENT_BUS_NAME, path: AGENT_OBJECT_PATH, interface: AGENT_INTERFACE,
    member: 'UpdateApply', signature: '', body: [],
    signals: {
      match: `type='signal',interface='${AGENT_INTERFACE}',member='UpdateStatusChanged'`,
      onSignal: (msg) => {
        if (msg.member === 'UpdateStatusChanged') signals.push(JSON.parse(msg.body[0] as string) as UpdateStatusDocument);
      },
    },
  });
  const done = JSON.parse(json as string) as UpdateStatusDocument;
  assert.equal(done.state, 'UPDATED_NEED_REBOOT');
  const downloading = signals.filter((s) => s.state === 'DOWNLOADING');
  assert.ok(downloading.length >= 2, `progress signals while downloading (${downloading.length})`);
  assert.ok(downloading.every((s, i) => i === 0 || s.progress >= downloading[i - 1]!.progress), 'progress only grows');
  assert.equal(signals.at(-1)?.state, 'UPDATED_NEED_REBOOT');
  assert.deepEqual(await cgptAttributes(world.disk.path, 'B'), { priority: 2, tries: 1, successful: false });

  const env = await agentctl(['update', 'status', '--format=env'], { env: bus.env });
  assert.match(env.stdout, /^PROGRESS=1$/m);
  assert.match(env.stdout, /^CURRENT_OP=UPDATE_STATUS_UPDATED_NEED_REBOOT$/m);
  assert.match(env.stdout, /^NEW_VERSION=2\.0\.0$/m);
  assert.match(env.stdout, new RegExp(`^NEW_SIZE=${world.imageSize}$`, 'm'));

  const again = await agentctl(['update', 'apply'], { env: bus.env });
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /2\.0\.0 is staged in the other slot: reboot to run it/);

  const rollback = await agentctl(['update', 'rollback'], { env: bus.env });
  assert.equal(rollback.code, 1);
  assert.match(rollback.stderr, /USR-B has not booted successfully/);
  assert.match(rollback.stderr, /agentctl update reset/);
});

test('Ctrl-C during agentctl update apply cancels the download in agentd; status and reset answer at once meanwhile', async (t) => {
  if (status().state === 'UPDATED_NEED_REBOOT') assert.equal((await agentctl(['update', 'reset'], { env: bus.env })).code, 0);
  world.server.behaviour.drip = { bytes: 1024, everyMs: 500 };
  try {
    let child: ChildProcess | undefined;
    const applying = agentctl(['update', 'apply'], { env: bus.env, onSpawn: (c) => (child = c) });
    await eventually(async () => status().state, (s) => s === 'DOWNLOADING', 'the download to start', 15_000);
    const start = performance.now();
    const [s] = await callMethod({
      bus: 'system', env: bus.env, destination: AGENT_BUS_NAME, path: AGENT_OBJECT_PATH, interface: AGENT_INTERFACE,
      member: 'GetUpdateStatus', signature: '', body: [],
    });
    assert.equal((JSON.parse(s as string) as UpdateStatusDocument).state, 'DOWNLOADING');
    const ms = performance.now() - start;
    assert.ok(ms < 1000, `GetUpdateStatus answered in ${ms} ms while the download runs`);
    t.diagnostic(`GetUpdateStatus over D-Bus during the download: ${ms.toFixed(1)} ms`);
    const check = await agentctl(['update', 'check'], { env: bus.env });
    assert.equal(check.code, 0, check.stderr);
    assert.match(check.stdout, /An update is under way \(UPDATE_STATUS_DOWNLOADING, 2\.0\.0\): .*agentctl update reset cancels it/);
    const interruptedAt = performance.now();
    child!.kill('SIGINT');
    const interrupted = await applying;
    t.diagnostic(`agentctl update apply exited ${interrupted.code} ${(performance.now() - interruptedAt).toFixed(0)} ms after SIGINT`);
    assert.equal(interrupted.code, 130, interrupted.stderr);
    assert.match(interrupted.stderr, /interrupted: cancelling the update in agentd/);
    assert.match(interrupted.stderr, /the update was cancelled; nothing is staged/);
    assert.equal(status().state, 'IDLE');
    assert.equal((await cgptAttributes(world.disk.path, 'B')).priority, 0);
  } finally {
    delete world.server.behaviour.drip;
  }
});
