/**
 * A pod declared in cloud-config (a container with `apps:`), run by agentd from real signed
 * busybox ACIs (one version per app) on the default network of the world's own bridge:
 * the apps reach each other on 127.0.0.1, the pod's port reaches its server from the host;
 * `agentctl ps` (and --json) shows the pod and its apps; `agentctl enter POD/APP` enters
 * an app (a pod alone is refused, naming its apps); kill -9 of agentd: the restarted agent
 * adopts the pod (same PIDs); stop, start and rm act on the
 * whole pod; removing it leaves no lease, veth, rule or namespace.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { agentctl } from '../../lib/agent.js';
import { testNetworks, type TestNetworks } from '../../lib/cni-net.js';
import { AGENT_UNIT, IMAGE, makeAgentWorld, type AgentWorld } from './world.js';
import { freePort } from '../../lib/etcd.js';

let w: AgentWorld;
let net: TestNetworks;
let port: number;
let clientImage: string;
const cleanups: Array<() => unknown> = [];

function cloudConfig(scratch: string, withPod = true): string {
  const pod = withPod ? `
    - name: duo
      ports: [{host: ${port}, container: 8080}]
      restart: on-failure
      apps:
        - name: server
          image: ${IMAGE}:1.0.0
          exec: [/bin/busybox, httpd, -f, -p, "8080", -h, /www]
          volumes: [{host: ${scratch}/www, path: /www, read-only: true}]
        - name: client
          image: ${IMAGE}:2.0.0
          exec: [/bin/busybox, sh, -c, 'until busybox nc -w 2 127.0.0.1 8080 < /data/request > /data/got; do busybox sleep 0.1; done; exec busybox sleep 600']
          volumes: [{host: ${scratch}/client, path: /data}]
          environment: {ROLE: client}` : '';
  return `#cloud-config
host-agent:
  containers:${pod}
    - name: plain
      image: ${IMAGE}:1.0.0
      network: host
      exec: [/bin/sh, -c, "exec sleep 600"]
`;
}

before(async () => {
  const suite = { after: (fn: () => unknown) => cleanups.push(fn) };
  port = await freePort();
  // The pod waits for the client's image, imported once agentd runs.
  w = await makeAgentWorld(suite, () => '#cloud-config\n');
  net = testNetworks(suite, join(w.sbx.env.XDG_RUNTIME_DIR!, 'host-agent'), w.network);
  await mkdir(join(w.scratch, 'www'), { recursive: true });
  await mkdir(join(w.scratch, 'client'), { recursive: true });
  await writeFile(join(w.scratch, 'www/index.html'), 'served by the pod\n');
  await writeFile(join(w.scratch, 'client/request'), 'GET /index.html HTTP/1.0\r\n\r\n');
  clientImage = await w.importImage({ version: '2.0.0' });
  await w.writeConfig(cloudConfig(w.scratch));
});

after(async () => {
  for (const u of await w.systemd.listUnits(['container-*']).catch(() => [])) await w.systemd.stop(u.name).catch(() => undefined);
  for (const fn of cleanups) await fn();
});

test('a pod: apps on one localhost, its port from the host, ps shows it with its apps, stop/start/rm act on the whole pod, nothing left', async () => {
  const env = { env: w.sbx.env };
  const running = (c: Awaited<ReturnType<AgentWorld['container']>>): boolean => c?.state === 'running' && (c.apps ?? []).every((a) => a.state === 'running');
  const duo = await w.eventually(() => w.container('duo'), running, 'the pod and its apps to run', 60_000);
  assert.deepEqual(duo!.apps!.map((a) => [a.name, a.image, a.version, a.unit]), [
    ['server', `${IMAGE}:1.0.0`, '1.0.0', 'container-duo.server.service'],
    ['client', `${IMAGE}:2.0.0`, '2.0.0', 'container-duo.client.service'],
  ]);
  assert.equal(duo!.apps![1]!.imageId, clientImage);
  assert.ok(duo!.apps!.every((a) => a.mainPid > 0));
  assert.deepEqual(duo!.network!.ports, [`${port}:8080/tcp`]);

  const got = await w.eventually(() => readFile(join(w.scratch, 'client/got'), 'utf8').catch(() => ''), (t) => t.includes('served by the pod'), 'the client to reach the server on 127.0.0.1');
  assert.match(got, /^HTTP\/1\.[01] 200/);
  const res = await w.eventually(() => fetch(`http://127.0.0.1:${port}/index.html`, { signal: AbortSignal.timeout(3000) }).then((r) => r.text()).catch(() => ''),
    (t) => t !== '', 'the pod\'s port from the host');
  assert.equal(res, 'served by the pod\n');

  const ps = await agentctl(['ps'], env);
  assert.match(ps.stdout, /^duo\s+pod of 2 apps\s+-\s+running\s+\d+\s+\S+\s+0\s+default \d+\.\S+\s+\d+:8080\/tcp$/m, ps.stdout);
  assert.match(ps.stdout, /^ {2}duo\/server\s+example\.com\/busybox:1\.0\.0\s+1\.0\.0\s+running\s+\d+\s+-/m, ps.stdout);
  assert.match(ps.stdout, /^ {2}duo\/client\s+example\.com\/busybox:2\.0\.0\s+2\.0\.0\s+running\s+\d+\s+-/m, ps.stdout);

  const entered = await agentctl(['enter', 'duo/server', '--', '/bin/busybox', 'cat', '/www/index.html'], env);
  assert.deepEqual([entered.code, entered.stdout], [0, 'served by the pod\n'], entered.stderr);
  const whole = await agentctl(['enter', 'duo'], env);
  assert.equal(whole.code, 1);
  assert.match(whole.stderr, /this is a pod: enter one of its apps.*agentctl enter duo\/server or duo\/client/s);

  const rmImage = await agentctl(['image', 'rm', clientImage], env);
  assert.equal(rmImage.code, 1, 'an app\'s image is in use');
  assert.match(rmImage.stderr, /duo/);

  // kill -9 of agentd: the restarted agent adopts the pod and its apps (same PIDs).
  const pids = [duo!.mainPid, ...duo!.apps!.map((a) => a.mainPid)];
  const agent = await w.systemd.unitStatus(AGENT_UNIT);
  process.kill(agent.mainPid, 'SIGKILL');
  await w.eventually(async () => (await w.systemd.unitStatus(AGENT_UNIT)).mainPid, (pid) => pid > 0 && pid !== agent.mainPid, 'agentd to be restarted');
  const adopted = await w.eventually(() => w.container('duo').catch(() => undefined), running, 'the restarted agent to see the pod', 60_000);
  await new Promise((r) => setTimeout(r, 1000));
  const again = await w.container('duo');
  assert.deepEqual([again!.mainPid, ...again!.apps!.map((a) => a.mainPid)], pids, 'adopted, not restarted');
  assert.equal(adopted!.state, 'running');

  assert.equal((await agentctl(['stop', 'duo'], env)).code, 0);
  const stopped = await w.eventually(() => w.container('duo'), (c) => c?.state === 'stopped' && c.apps!.every((a) => a.state === 'stopped'), 'the whole pod to stop');
  assert.ok(stopped!.apps!.every((a) => a.mainPid === 0));
  assert.deepEqual(await net.leftovers(['duo']), [], 'a stopped pod holds no network');
  const start = await agentctl(['start', 'duo'], env);
  assert.equal(start.code, 0, start.stderr);
  await w.eventually(() => w.container('duo'), running, 'the whole pod to start again', 60_000);

  const rm = await agentctl(['rm', 'duo'], env);
  assert.equal(rm.code, 1, 'a declared pod is not removed');
  await w.writeConfig(cloudConfig(w.scratch, false));
  await w.eventually(() => w.container('duo'), (c) => c === undefined || c.state === 'removed', 'the pod to be removed', 60_000);
  assert.equal((await w.systemd.listUnits(['container-duo*'])).filter((u) => u.activeState === 'active').length, 0);
  await w.eventually(() => agentctl(['rm', 'duo'], env), (r) => r.code === 0, 'agentctl rm of the removed pod');
  await assert.rejects(access(join(w.stateDir, 'containers/duo')), 'its layers are gone');
  assert.deepEqual(await net.leftovers(['duo']), []);
});
