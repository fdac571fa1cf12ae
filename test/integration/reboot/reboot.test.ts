/**
 * The reboot adapter (agent/host/reboot/reboot.ts) on a sandbox systemd and its bus:
 * - logind absent (a user manager's bus has none): the fallback starts reboot.target through
 *   systemd, here a harmless replacement that only writes a file;
 * - logind present: logind cannot run in the sandbox, so a small stand-in owns
 *   org.freedesktop.login1 on the sandbox bus and answers ListInhibitors, SetWallMessage and
 *   Reboot with logind's signatures. A shutdown inhibitor of another program postpones the
 *   reboot (before and after the delay); without one, the wall message is set and Reboot is
 *   called with interactive=false, and reboot.target is not touched.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { access, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import dbus from 'dbus-next';
import { createLogger } from '../../../agent/host/log/logger.js';
import { systemReboot } from '../../../agent/host/reboot/reboot.js';
import { connectBus } from '../../../agent/host/systemd/dbus.js';
import { SystemdManager } from '../../../agent/host/systemd/manager.js';
import { startSandbox } from '../../lib/sandbox.js';

const quiet = () => createLogger('json', 'error', new Writable({ write: (_c, _e, done) => done() }));
const exists = (path: string) => access(path).then(() => true, () => false);

async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('rebooting through logind or, without it, reboot.target', async (t) => {
  const sandbox = await startSandbox(t);
  const marker = join(sandbox.dir, 'rebooted');
  await writeFile(join(sandbox.unitDir, 'reboot.target'), '[Unit]\nDescription=Harmless reboot.target for tests\nWants=reboot-marker.service\n');
  await writeFile(join(sandbox.unitDir, 'reboot-marker.service'),
    `[Service]\nType=oneshot\nExecStart=/bin/sh -c 'echo rebooted > ${marker}'\n`);
  await sandbox.systemctl('daemon-reload');
  const manager = await SystemdManager.connect('session', sandbox.env);
  t.after(() => manager.close());

  await t.test('no logind on the bus: reboot.target is started', async () => {
    const reboot = systemReboot({ systemd: () => manager, log: quiet(), delayMs: 20 });
    assert.deepEqual(await reboot('an OS update is staged'), { kind: 'rebooting', via: 'reboot.target' });
    await eventually(() => exists(marker), 'the reboot.target replacement to run');
  });

  await t.test('logind on the bus: inhibitors postpone; otherwise wall message and Reboot', async (t) => {
    const logind = await connectBus('session', sandbox.env);
    t.after(() => logind.disconnect());
    const calls: Array<{ member: string; body: unknown[] }> = [];
    let inhibitors: Array<[string, string, string, string, number, number]> = [];
    let onList: (() => void) | undefined;
    logind.addMethodHandler((msg: dbus.Message) => {
      if (msg.interface !== 'org.freedesktop.login1.Manager') return false;
      calls.push({ member: msg.member!, body: msg.body });
      const reply = msg.member === 'ListInhibitors'
        ? dbus.Message.newMethodReturn(msg, 'a(ssssuu)', [inhibitors])
        : dbus.Message.newMethodReturn(msg, '', []);
      if (msg.member === 'ListInhibitors') onList?.();
      logind.send(reply);
      return true;
    });
    await logind.requestName('org.freedesktop.login1', 0);
    const reboot = systemReboot({ systemd: () => manager, log: quiet(), delayMs: 50, selfPid: 4000 });

    inhibitors = [['shutdown:sleep', 'backup', 'copying the database', 'block', 0, 4242], ['sleep', 'x', 'y', 'block', 0, 1]];
    assert.deepEqual(await reboot('an OS update is staged'), {
      kind: 'postponed', reason: 'a shutdown inhibitor is held by backup (pid 4242: copying the database, block)',
    });
    assert.deepEqual(calls.map((c) => c.member), ['ListInhibitors'], 'no wall message, no reboot');

    // The agent's own inhibitor does not count; a delay inhibitor taken during the delay does.
    calls.length = 0;
    inhibitors = [['shutdown', 'agentd', 'self', 'delay', 0, 4000]];
    onList = () => {
      inhibitors = [['shutdown', 'editor', 'unsaved file', 'delay', 1000, 77]];
      onList = undefined;
    };
    assert.deepEqual(await reboot('an OS update is staged'), {
      kind: 'postponed', reason: 'a shutdown inhibitor is held by editor (pid 77: unsaved file, delay)',
    });
    assert.deepEqual(calls.map((c) => c.member), ['ListInhibitors', 'SetWallMessage', 'ListInhibitors']);

    calls.length = 0;
    inhibitors = [];
    await rm(marker, { force: true });
    assert.deepEqual(await reboot('an OS update is staged'), { kind: 'rebooting', via: 'logind' });
    assert.deepEqual(calls, [
      { member: 'ListInhibitors', body: [] },
      { member: 'SetWallMessage', body: ['host-agent: rebooting in 1 s: an OS update is staged', true] },
      { member: 'ListInhibitors', body: [] },
      { member: 'Reboot', body: [false] },
    ]);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(await exists(marker), false, 'reboot.target was not started');
  });
});
