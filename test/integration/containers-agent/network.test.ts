/**
 * Container networks under agentd: a declared container on the default network (an
 * interface and subnet of the world's own, through HOST_AGENT_BRIDGE/HOST_AGENT_SUBNET) serves
 * through its port on 127.0.0.1; ps shows its network, address and ports; kill -9 of agentd
 * leaves its network untouched (same namespace, address, lease, rules) and the restarted agent
 * adopts it; removing it from the configuration leaves nothing behind. One-off runs:
 * `agentctl run --network default|none|host` (ps shows the network, an agent restart keeps
 * it), an undeclared network refused, and a removed run leaves nothing behind. Host ports:
 * one a service of the host listens on, or a running run forwards, is refused for a
 * declaration (its error in ps, the rest applied) and for `agentctl run -p`, naming both;
 * two declarations forwarding one port refuse the configuration (the last good one stays).
 * A declared network named default replaces the built-in one (its CNI plugins run instead).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, readlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { AgentStatus } from '../../../agent/api/agent1.js';
import { agentctl } from '../../lib/agent.js';
import { testNetworks, type TestNetworks } from '../../lib/cni-net.js';
import { AGENT_UNIT, IMAGE, makeAgentWorld, type AgentWorld } from './world.js';
import { freePort } from '../../lib/etcd.js';

let w: AgentWorld;
let net: TestNetworks;
let port: number;
const cleanups: Array<() => unknown> = [];

function cloudConfig(scratch: string, withWeb = true): string {
  const web = withWeb ? `
    - name: web
      image: ${IMAGE}:1.0.0
      exec: [/bin/busybox, httpd, -f, -p, "80", -h, /data]
      volumes: [{host: ${scratch}/web, path: /data}]
      ports: [{host: ${port}, container: 80}]` : '';
  return `#cloud-config
host-agent:
  containers:${web}
    - name: plain
      image: ${IMAGE}:1.0.0
      network: host
      exec: [/bin/sh, -c, "exec sleep 600"]
`;
}

before(async () => {
  const suite = { after: (fn: () => unknown) => cleanups.push(fn) };
  port = await freePort();
  w = await makeAgentWorld(suite, ({ scratch }) => cloudConfig(scratch));
  net = testNetworks(suite, join(w.sbx.env.XDG_RUNTIME_DIR!, 'host-agent'), w.network);
  await mkdir(join(w.scratch, 'web'), { recursive: true });
  await writeFile(join(w.scratch, 'web/index.html'), 'served by web\n');
});

// Containers are stopped first (their ExecStopPost tears their networks down), then in order.
after(async () => {
  for (const u of await w.systemd.listUnits(['container-*.service']).catch(() => [])) await w.systemd.stop(u.name).catch(() => undefined);
  for (const fn of cleanups) await fn();
});

async function get(): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/index.html`, { signal: AbortSignal.timeout(3000) });
  return res.text();
}

function containerInit(nspawnPid: number): number {
  return Number(execFileSync('cat', [`/proc/${nspawnPid}/task/${nspawnPid}/children`], { encoding: 'utf8' }).trim().split(/\s+/)[0]);
}

test('a declared container on the default network: port on 127.0.0.1, network in ps; agentd kill -9 leaves the network untouched; removal leaves nothing', async () => {
  const web = await w.eventually(() => w.container('web'), (c) => c?.state === 'running' && c.network?.address !== undefined, 'web to run with an address', 60_000);
  const prefix = net.subnets[0]!.replace(/0\/24$/, '');
  assert.equal(web!.network!.name, 'default');
  assert.ok(web!.network!.address!.startsWith(prefix), web!.network!.address);
  assert.deepEqual(web!.network!.ports, [`${port}:80/tcp`]);
  assert.deepEqual((await w.container('plain'))!.network, { name: 'host', ports: [] });
  const ps = await agentctl(['ps'], { env: w.sbx.env });
  assert.match(ps.stdout, new RegExp(`^web .* default ${web!.network!.address!.replace(/\./g, '\\.')}\\s+${port}:80/tcp\\s*$`, 'm'));
  assert.equal(await w.eventually(() => get().catch(() => ''), (t) => t !== '', 'the port forward'), 'served by web\n');

  const before = {
    pid: web!.mainPid,
    netns: await readlink(`/proc/${containerInit(web!.mainPid)}/ns/net`),
    listing: await net.leftovers(['web']),
  };
  assert.notDeepEqual(before.listing, []);
  const agent = await w.systemd.unitStatus(AGENT_UNIT);
  process.kill(agent.mainPid, 'SIGKILL');
  await w.eventually(async () => (await w.systemd.unitStatus(AGENT_UNIT)).mainPid, (pid) => pid > 0 && pid !== agent.mainPid, 'agentd to be restarted');
  const adopted = await w.eventually(() => w.container('web'), (c) => c?.state === 'running' && c.network?.address !== undefined, 'the restarted agent to settle', 60_000);
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(adopted!.mainPid, before.pid, 'adopted, not restarted');
  assert.equal(adopted!.network!.address, web!.network!.address);
  assert.equal(await readlink(`/proc/${containerInit(adopted!.mainPid)}/ns/net`), before.netns);
  assert.deepEqual(await net.leftovers(['web']), before.listing, 'the same lease, rules and files');
  assert.equal(await get(), 'served by web\n');

  await w.writeConfig(cloudConfig(w.scratch, false));
  await w.eventually(() => w.container('web'), (c) => c === undefined || c.state === 'removed', 'web to be removed', 60_000);
  await w.eventually(() => net.leftovers(['web']), (l) => l.length === 0, 'nothing left of web\'s network', 30_000);
});

test('agentctl run --network: default has a namespace and address of its own (ps shows it, a restarted agent too), none has loopback only, host the host\'s; an undeclared network is refused; nothing is left', async () => {
  const env = { env: w.sbx.env };
  const r = await agentctl(['run', '--detach', '--name', 'netrun', '--network', 'default', `${IMAGE}:1.0.0`, '--', '/bin/sh', '-c', 'exec sleep 600'], env);
  assert.equal(r.code, 0, r.stderr);
  const run = await w.eventually(() => w.container('netrun'), (c) => c?.state === 'running' && c.network?.address !== undefined, 'the run to have an address', 60_000);
  assert.equal(run!.kind, 'run');
  assert.equal(run!.network!.name, 'default');
  assert.ok(run!.network!.address!.startsWith(net.subnets[0]!.replace(/0\/24$/, '')), run!.network!.address);
  const hostNetns = await readlink('/proc/self/ns/net');
  assert.notEqual(await readlink(`/proc/${containerInit(run!.mainPid)}/ns/net`), hostNetns);
  const ps = await agentctl(['ps'], env);
  assert.match(ps.stdout, new RegExp(`^netrun .* default ${run!.network!.address!.replace(/\./g, '\\.')}\\s+-\\s*$`, 'm'), ps.stdout);

  await w.systemd.restart(AGENT_UNIT);
  const adopted = await w.eventually(() => w.container('netrun'), (c) => c?.state === 'running' && c.network?.address !== undefined, 'the restarted agent to see the run', 60_000);
  assert.deepEqual([adopted!.network!.name, adopted!.mainPid, adopted!.network!.address], ['default', run!.mainPid, run!.network!.address]);

  const none = await agentctl(['run', '--name', 'isolated', '--network', 'none', `${IMAGE}:1.0.0`, '--', '/bin/busybox', 'cat', '/proc/net/dev'], env);
  assert.equal(none.code, 0, none.stderr);
  assert.match(none.stdout, /^\s*lo:/m);
  assert.equal(none.stdout.match(/^\s*[\w@.-]+:/gm)!.length, 1, `loopback only: ${none.stdout}`);
  const shared = await agentctl(['run', '--name', 'shared', '--network', 'host', `${IMAGE}:1.0.0`, '--', '/bin/busybox', 'cat', '/proc/net/dev'], env);
  assert.equal(shared.code, 0, shared.stderr);
  assert.match(shared.stdout, new RegExp(`^\\s*${w.network.bridges[0]}:`, 'm'), 'the host\'s interfaces, the test bridge among them');

  const bad = await agentctl(['run', '--name', 'lost', '--network', 'nosuch', `${IMAGE}:1.0.0`], env);
  assert.equal(bad.code, 1, bad.stdout);
  assert.match(bad.stderr, /network "nosuch" is not declared/);
  assert.match(bad.stderr, /--network default, host, none/);

  for (const name of ['netrun', 'isolated', 'shared']) assert.equal((await agentctl(['rm', name], env)).code, 0, name);
  await w.eventually(() => net.leftovers(['netrun']), (l) => l.length === 0, 'nothing left of the run\'s network', 30_000);
});

test('host ports: one the host listens on or a run forwards is refused, for a declaration and for agentctl run -p, naming both; two declarations on one port refuse the configuration', async () => {
  const env = { env: w.sbx.env };
  // A service of the host on 127.0.0.1 (as etcd on 2379).
  const service = createServer();
  await new Promise<void>((r) => service.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise((r) => service.close(r)));
  const busy = (service.address() as { port: number }).port;
  const held = await freePort();
  const run = (name: string, port: number, ...more: string[]) => agentctl(['run', '--name', name, '--network', 'default', '-p', `${port}:80`, ...more, `${IMAGE}:1.0.0`, '--', '/bin/sh', '-c', 'exec sleep 600'], env);

  const holder = await run('holder', held, '--detach');
  assert.equal(holder.code, 0, holder.stderr);
  const h = await w.eventually(() => w.container('holder'), (c) => c?.state === 'running', 'the run holding the port', 60_000);
  assert.deepEqual(h!.network!.ports, [`${held}:80/tcp`]);
  const second = await run('second', held);
  assert.equal(second.code, 1, second.stdout);
  assert.match(second.stderr, new RegExp(`container second: host port ${held}/tcp is already forwarded by container holder`));
  assert.match(second.stderr, /Give second or holder another host port/);
  const squat = await run('squat', busy);
  assert.equal(squat.code, 1, squat.stdout);
  assert.match(squat.stderr, new RegExp(`container squat: host port ${busy}/tcp is in use on this host`));

  const declared = (ports: Array<[string, number]>) => `#cloud-config
host-agent:
  containers:
    - name: plain
      image: ${IMAGE}:1.0.0
      network: host
      exec: [/bin/sh, -c, "exec sleep 600"]
${ports.map(([name, port]) => `    - name: ${name}
      image: ${IMAGE}:1.0.0
      exec: [/bin/sh, -c, "exec sleep 600"]
      ports: [{host: ${port}, container: 80}]
`).join('')}`;
  await w.writeConfig(declared([['squatter', busy], ['clash', held]]));
  const squatter = await w.eventually(() => w.container('squatter'), (c) => c?.state === 'error', 'the declaration on the host\'s port to be refused', 60_000);
  assert.equal(squatter!.error!.code, 'container.port-taken');
  assert.match(squatter!.error!.message, new RegExp(`host port ${busy}/tcp is in use on this host`));
  const clash = await w.eventually(() => w.container('clash'), (c) => c?.state === 'error', 'the declaration on the run\'s port to be refused');
  assert.match(clash!.error!.message, new RegExp(`host port ${held}/tcp is already forwarded by container holder`));
  assert.equal((await w.container('plain'))!.state, 'running', 'the rest is applied');
  const ps = await agentctl(['ps'], env);
  assert.match(ps.stdout, new RegExp(`^clash: .*host port ${held}/tcp is already forwarded by container holder`, 'm'), ps.stdout);

  const free = await freePort();
  await w.writeConfig(declared([['one', free], ['two', free]]));
  const status = await w.eventually(async () => JSON.parse((await agentctl(['status', '--json'], env)).stdout) as AgentStatus,
    (s) => s.config.state === 'invalid', 'the configuration to be refused');
  assert.match(status.config.entries.map((e) => e.message).join('\n'), new RegExp(`host port ${free}/tcp of container "two" is already forwarded by container "one"`));
  assert.ok(status.containers!.some((c) => c.name === 'squatter'), 'the last good configuration stays in force');
  assert.ok(!status.containers!.some((c) => c.name === 'one'));
  assert.equal((await agentctl(['rm', 'holder'], env)).code, 0);
});

test('a declared network named default replaces the built-in one: a container without network: runs on its conflist\'s plugins, and moves back, torn down by its old unit', async () => {
  // viacni declares no network; with declaredDefault the configuration declares `default`.
  const config = (declaredDefault: boolean): string => `#cloud-config
host-agent:${declaredDefault ? `
  networks:
    - name: default
      conflist: '${net.secondConflist}'` : ''}
  containers:
    - name: plain
      image: ${IMAGE}:1.0.0
      network: host
      exec: [/bin/sh, -c, "exec sleep 600"]
    - name: viacni
      image: ${IMAGE}:1.0.0
      exec: [/bin/sh, -c, "exec sleep 600"]
`;
  await w.writeConfig(config(true));
  const c = await w.eventually(() => w.container('viacni'), (x) => x?.state === 'running' && x.network?.address !== undefined, 'the container on the declared default network', 60_000);
  assert.equal(c!.network!.name, 'default');
  assert.ok(c!.network!.address!.startsWith(net.subnets[1]!.replace(/0\/24$/, '')), `an address of the declared conflist's subnet: ${c!.network!.address}`);
  assert.match(execFileSync('ip', ['-o', 'link', 'show', 'master', net.bridges[1]!], { encoding: 'utf8' }), /veth/, 'a veth on the conflist\'s bridge, made by the bridge plugin');

  // The declared default goes: the container moves to the built-in network. It is stopped
  // with the unit that started it, so the CNI DEL runs: nothing of the plugins' is left.
  const pid = c!.mainPid;
  await w.writeConfig(config(false));
  const moved = await w.eventually(() => w.container('viacni'), (x) => x?.state === 'running' && x.mainPid !== pid && x.network?.address?.startsWith(net.subnets[0]!.replace(/0\/24$/, '')) === true,
    'the container on the built-in network', 60_000);
  assert.equal(moved!.network!.name, 'default');
  // (This world's bridge and subnet only: a rule an earlier run left names the container too.)
  assert.deepEqual((await net.leftovers(['viacni'])).filter((l) => l.includes(net.bridges[1]!) || l.includes(net.subnets[1]!.replace(/0\/24$/, ''))), [],
    `no veth, rule or lease of the CNI network; the container's output:\n${await readFile(join(w.stateDir, 'containers/viacni/output.log'), 'utf8').catch(() => '')}`);
  await w.writeConfig(cloudConfig(w.scratch, false));
  await w.eventually(() => w.container('viacni'), (x) => x === undefined || x.state === 'removed', 'viacni to be removed', 60_000);
  await w.eventually(() => net.leftovers(['viacni']), (l) => l.length === 0, 'nothing left of its network', 30_000);
});
