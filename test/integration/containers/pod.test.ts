/**
 * Pods (agent/core/containers/pod.ts) through a real systemd, the real CNI plugins and
 * iptables, on the test's own bridge and subnet: two apps share one network namespace
 * (one serves on 127.0.0.1, the other reaches it) and one IPC namespace, each in a root
 * of its own; one failing app fails the pod; a stop, and a kill -9 of the pod's main
 * process, leave no lease, veth, rule, namespace or mount. Traffic only inside the pod's namespace.
 */
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { makeWorld, waitForFile, waitInactive, type World } from './world.js';
import type { AppSpec, ContainerSpec } from '../../../agent/core/containers/spec.js';
import { appRootfsUnitName, appUnitName } from '../../../agent/core/containers/pod.js';

let w: World;
const cleanups: Array<() => unknown> = [];

before(async () => {
  w = await makeWorld({ after: (fn) => cleanups.push(fn) }, { network: true });
});

afterEach(async () => {
  for (const u of await w.systemd.listUnits(['container-*'])) {
    if (u.activeState !== 'inactive') await w.systemd.stop(u.name).catch(() => undefined);
    await w.systemd.resetFailed(u.name).catch(() => undefined);
  }
});

after(async () => {
  for (const u of await w.systemd.listUnits(['container-*']).catch(() => [])) await w.systemd.stop(u.name).catch(() => undefined);
  for (const fn of cleanups) await fn();
});

async function dataDir(name: string): Promise<string> {
  const dir = join(w.scratch, name);
  await mkdir(dir, { recursive: true });
  return dir;
}

function app(name: string, script: string, data: string): AppSpec {
  return { name, image: w.image.record, exec: ['/bin/sh', '-c', script], environment: { APP: name }, volumes: [{ host: data, path: '/data', readOnly: false }] };
}

function pod(name: string, apps: AppSpec[], fields: Partial<ContainerSpec> = {}): ContainerSpec {
  return w.spec(name, { apps, network: { mode: 'default', dns: [] }, ...fields });
}

async function run(spec: ContainerSpec): Promise<string> {
  return w.run(spec).catch(async (e: unknown) => {
    throw new Error(`${String(e)}\n${await readFile(w.units.paths(spec.name).output, 'utf8').catch(() => '')}`);
  });
}

/** What each app writes: its namespaces, and what its /tmp holds after it wrote its own file there. */
const IDENTIFY = 'readlink /proc/self/ns/ipc > /data/$APP.ipc; readlink /proc/self/ns/net > /data/$APP.net; '
  + 'echo $APP > /tmp/mine; ls /tmp > /data/$APP.tmp';

/** Shell: an HTTP GET with busybox nc, tried for 5 s (the server app may not listen yet); body to FILE, status to FILE.rc. */
function get(host: string, port: string, file: string): string {
  return `for i in $(seq 50); do printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 ${host} ${port} > ${file}.raw 2>${file}.err; rc=$?; `
    + `[ $rc = 0 ] && [ -s ${file}.raw ] && break; rc=1; sleep 0.1; done; sed '1,/^\\r$/d' ${file}.raw > ${file}; echo $rc > ${file}.rc`;
}

async function mounted(path: string): Promise<boolean> {
  return (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').some((l) => l.split(' ')[4] === path);
}

test('a pod of two apps: one serves on 127.0.0.1, the other reaches it; one network and one IPC namespace, a root each', async () => {
  const data = await dataDir('duo');
  const spec = pod('duo', [
    app('server', `${IDENTIFY}; exec httpd -f -p 127.0.0.1:8080 -h /www`, data),
    app('client', `${IDENTIFY}; ${get('127.0.0.1', '8080', '/data/got')}; exec sleep 1000`, data),
  ]);
  const unit = await run(spec);
  assert.equal((await waitForFile(join(data, 'got.rc'))).trim(), '0', await readFile(join(data, 'got.err'), 'utf8').catch(() => ''));
  assert.equal(await readFile(join(data, 'got'), 'utf8'), 'hello from the image\n');

  const ns = async (appName: string, kind: string): Promise<string> => (await waitForFile(join(data, `${appName}.${kind}`))).trim();
  assert.equal(await ns('server', 'net'), await ns('client', 'net'), 'one network namespace');
  assert.notEqual(await ns('server', 'net'), await readlink('/proc/self/ns/net'));
  assert.equal(await ns('server', 'ipc'), await ns('client', 'ipc'), 'one IPC namespace');
  assert.notEqual(await ns('server', 'ipc'), await readlink('/proc/self/ns/ipc'));
  // Each app has its own root (and so its own /tmp): neither sees the other's file.
  assert.equal(await ns('server', 'tmp'), 'mine');
  assert.equal(await ns('client', 'tmp'), 'mine');
  assert.equal(await readFile(join(w.stateDir, 'containers/duo/apps/server/upper/tmp/mine'), 'utf8'), 'server\n');
  assert.equal(await readFile(join(w.stateDir, 'containers/duo/apps/client/upper/tmp/mine'), 'utf8'), 'client\n');

  for (const a of ['server', 'client']) assert.equal((await w.systemd.unitStatus(appUnitName('duo', a))).activeState, 'active');
  await w.systemd.stop(unit);
  for (const a of ['server', 'client']) {
    assert.equal((await w.systemd.unitStatus(appUnitName('duo', a))).activeState, 'inactive', `${a} stops with the pod`);
    assert.equal((await w.systemd.unitStatus(appRootfsUnitName('duo', a))).activeState, 'inactive');
    assert.equal(await mounted(join(w.stateDir, `containers/duo/apps/${a}/merged`)), false, `${a}'s overlay is unmounted`);
  }
  assert.deepEqual(await w.net!.leftovers(['duo']), []);
  assert.equal(await mounted(join(w.stateDir, 'containers/duo/ipc')), false, 'the IPC namespace file is unmounted');
  assert.deepEqual((await readdir(join(w.stateDir, 'containers/duo'))).sort(), ['apps', 'output.log'], 'no FIFO or namespace file is left');
});

test('one failing app fails the pod with its exit status and stops the others; nothing is left', async () => {
  const data = await dataDir('failing');
  const spec = pod('failing', [
    app('steady', 'echo steady > /data/steady; exec sleep 1000', data),
    app('broken', 'while [ ! -e /data/steady ]; do sleep 0.05; done; echo boom; exit 3', data),
  ]);
  const unit = await run(spec);
  const state = await waitInactive(w.systemd, unit).catch(async (e: unknown) => `${String(e)}\n${await readFile(w.units.paths('failing').output, 'utf8')}`
    + `\n${(await w.systemd.unitStatus(appUnitName('failing', 'broken'))).activeState}\n${await readFile(join(w.sbx.unitDir, appUnitName('failing', 'broken')), 'utf8')}`);
  assert.equal(state, 'failed');
  const status = await w.systemd.unitStatus(unit);
  assert.equal(status.execMainStatus, 3);
  assert.equal((await w.systemd.unitStatus(appUnitName('failing', 'steady'))).activeState, 'inactive');
  assert.equal((await w.systemd.unitStatus(appUnitName('failing', 'broken'))).activeState, 'failed');
  const output = await readFile(w.units.paths('failing').output, 'utf8');
  assert.match(output, /boom/);
  assert.match(output, /pod: app broken failed with exit status 3/);
  assert.deepEqual(await w.net!.leftovers(['failing']), []);
});

test('a pod starts again after a stop, its app with it', async () => {
  const data = await dataDir('again');
  const spec = pod('again', [app('only', 'echo $$ >> /data/starts; exec sleep 1000', data)]);
  const unit = await run(spec);
  await waitForFile(join(data, 'starts'));
  await w.systemd.stop(unit);
  await w.systemd.start(unit);
  const deadline = Date.now() + 10_000;
  while ((await readFile(join(data, 'starts'), 'utf8')).trim().split('\n').length < 2) {
    assert.ok(Date.now() < deadline, 'the app started again with the pod');
    await new Promise((r) => setTimeout(r, 50));
  }
  await w.systemd.stop(unit);
  assert.deepEqual(await w.net!.leftovers(['again']), []);
});

test('kill -9 of the pod\'s main process fails the pod, stops its apps and leaves nothing', async () => {
  const data = await dataDir('killed');
  const unit = await run(pod('killed', [app('one', 'exec sleep 1000', data), app('two', 'exec sleep 1000', data)]));
  for (const a of ['one', 'two']) await waitActive(appUnitName('killed', a));
  process.kill((await w.systemd.unitStatus(unit)).mainPid, 'SIGKILL');
  assert.equal(await waitInactive(w.systemd, unit), 'failed');
  for (const a of ['one', 'two']) assert.match(await waitInactive(w.systemd, appUnitName('killed', a)), /^(inactive|failed)$/);
  assert.deepEqual(await w.net!.leftovers(['killed']), [], await readFile(w.units.paths('killed').output, 'utf8').catch(() => ''));
  assert.equal(await mounted(join(w.stateDir, 'containers/killed/ipc')), false);
});

async function waitActive(unit: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while ((await w.systemd.unitStatus(unit)).activeState !== 'active') {
    assert.ok(Date.now() < deadline, `${unit} to be active`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
