/**
 * The systemd adapter against a real (sandboxed) systemd manager: jobs and their results
 * from JobRemoved, unit files written and removed, failures with their exit status,
 * enable/disable, PropertiesChanged.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SystemdManager } from '../../../agent/host/systemd/manager.js';
import { UnitFileStore, markerOf } from '../../../agent/host/systemd/unit-files.js';
import { isAgentError } from '../../../agent/core/errors.js';
import { startSandbox, type Sandbox } from '../../lib/sandbox.js';

let sbx: Sandbox;
let systemd: SystemdManager;
let store: UnitFileStore;
const cleanups: Array<() => unknown> = [];
const suite = { after: (fn: () => unknown) => cleanups.push(fn) };

before(async () => {
  sbx = await startSandbox(suite);
  systemd = await SystemdManager.connect('session', sbx.env);
  store = new UnitFileStore({ persistent: sbx.unitDir, runtime: `${sbx.env.XDG_RUNTIME_DIR}/systemd/user` });
});

after(async () => {
  systemd?.close();
  for (const fn of cleanups.reverse()) await fn();
});

const sleeper = (desc: string): string => `[Unit]\nDescription=${desc}\nX-HostAgent-Source=test\n[Service]\nExecStart=/bin/sleep 600\n`;

test('reports the systemd version', async () => {
  assert.match(await systemd.version(), /^\d+/);
});

test('start, restart and stop a real unit, results from JobRemoved', async () => {
  await store.write('t-sleep.service', sleeper('sleeper'));
  await systemd.daemonReload();
  await systemd.start('t-sleep.service');
  const started = await systemd.unitStatus('t-sleep.service');
  assert.equal(started.activeState, 'active');
  assert.ok(started.mainPid > 0);

  await systemd.restart('t-sleep.service');
  const restarted = await systemd.unitStatus('t-sleep.service');
  assert.equal(restarted.activeState, 'active');
  assert.notEqual(restarted.mainPid, started.mainPid);

  await systemd.stop('t-sleep.service');
  assert.equal((await systemd.unitStatus('t-sleep.service')).activeState, 'inactive');
});

test('a unit file written, reloaded, started, then removed', async () => {
  await store.write('t-written.service', sleeper('written by the test'));
  assert.equal(markerOf((await store.read('t-written.service'))!), 'test');
  await systemd.daemonReload();
  const listedBefore = await store.listManaged();
  assert.ok(listedBefore.some((u) => u.name === 't-written.service'));
  await systemd.start('t-written.service');
  assert.equal((await systemd.unitStatus('t-written.service')).description, 'written by the test');
  await systemd.stop('t-written.service');
  assert.equal(await store.remove('t-written.service'), true);
  await systemd.daemonReload();
  assert.equal((await systemd.unitStatus('t-written.service')).loadState, 'not-found');
});

test('a failing unit is reported as failed with its exit status', async () => {
  await store.write('t-fail.service', '[Service]\nType=oneshot\nExecStart=/bin/sh -c "exit 3"\n');
  await systemd.daemonReload();
  await assert.rejects(systemd.start('t-fail.service'), (e: unknown) => {
    assert.ok(isAgentError(e, 'systemd.job-failed'), String(e));
    assert.equal(e.subject, 't-fail.service');
    assert.match(e.message, /exited with status 3/);
    return true;
  });
  const status = await systemd.unitStatus('t-fail.service');
  assert.equal(status.activeState, 'failed');
  assert.equal(status.execMainStatus, 3);
});

test('starting a unit that does not exist is a typed error naming it', async () => {
  await assert.rejects(systemd.start('t-missing.service'), (e: unknown) => {
    assert.ok(isAgentError(e), String(e));
    assert.equal(e.subject, 't-missing.service');
    assert.ok(e.hint);
    return true;
  });
});

test('enable and disable create and remove the install symlinks', async () => {
  await store.write('t-enable.service', `${sleeper('enable me')}[Install]\nWantedBy=default.target\n`);
  await systemd.daemonReload();
  const enabled = await systemd.enable(['t-enable.service']);
  assert.ok(enabled.some((c) => c.type === 'symlink' && c.file.endsWith('default.target.wants/t-enable.service')));
  const disabled = await systemd.disable(['t-enable.service']);
  assert.ok(disabled.some((c) => c.type === 'unlink'));
});

test('PropertiesChanged reports a unit that changed state', async () => {
  await store.write('t-watch.service', sleeper('watched'));
  await systemd.daemonReload();
  await systemd.start('t-watch.service');
  const seen = new Promise<string>((resolve) => {
    const off = systemd.onUnitPropertiesChanged((unit, changed) => {
      if (unit === 't-watch.service' && changed.ActiveState === 'failed') {
        off();
        resolve(String(changed.ActiveState));
      }
    });
  });
  await sbx.systemctl('kill', '--signal=KILL', 't-watch.service');
  assert.equal(await seen, 'failed');
});
