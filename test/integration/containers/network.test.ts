/**
 * Container networks through the real CNI plugins (bridge, host-local, portmap, firewall),
 * real iptables and network namespaces the tests create, on bridges and subnets of the
 * tests' own. Traffic only between the containers, the bridges and loopback.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdir, readFile, readlink, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { makeWorld, waitForFile, type World } from './world.js';
import { addressOf, gatewayOf } from '../../lib/cni-net.js';
import type { ContainerSpec } from '../../../agent/core/containers/spec.js';

let w: World;
const cleanups: Array<() => unknown> = [];

before(async () => {
  w = await makeWorld({ after: (fn) => cleanups.push(fn) }, { network: true });
});

// In order: the sandbox manager first (its units' ExecStopPost tear the networks down), then the bridges.
after(async () => {
  for (const fn of cleanups) await fn();
});

function serve(host: string, body: string): Promise<Server & { port: number }> {
  const server = createServer((_req, res) => res.end(body));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve(Object.assign(server, { port: (server.address() as AddressInfo).port })));
  });
}

async function dataDir(name: string): Promise<string> {
  const dir = join(w.scratch, name);
  await mkdir(dir, { recursive: true });
  return dir;
}

/** A container on `network` that runs `script` with /data mounted; returns its data directory. */
async function start(name: string, script: string, fields: Partial<ContainerSpec> = {}): Promise<{ unit: string; data: string }> {
  const data = await dataDir(name);
  const unit = await w.run(w.spec(name, {
    exec: ['/bin/sh', '-c', script], volumes: [{ host: data, path: '/data', readOnly: false }],
    network: { mode: 'default', dns: [] }, ...fields,
  })).catch(async (e: unknown) => {
    throw new Error(`${String(e)}\n${await readFile(w.units.paths(name).output, 'utf8').catch(() => '')}`);
  });
  return { unit, data };
}

async function mainPid(unit: string): Promise<number> {
  return (await w.systemd.unitStatus(unit)).mainPid;
}

/** The PID of nspawn's child (the container's init), whose namespaces are the container's. */
function containerInit(nspawnPid: number): number {
  return Number(execFileSync('cat', [`/proc/${nspawnPid}/task/${nspawnPid}/children`], { encoding: 'utf8' }).trim().split(/\s+/)[0]);
}

/** Shell: an HTTP GET with busybox nc (static wget crashes in getservbyname without NSS), body to FILE, status to FILE.rc. */
function get(host: string, port: string, file: string): string {
  return `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${host} ${port} > ${file}.raw 2>${file}.err; echo $? > ${file}.rc; sed '1,/^\\r$/d' ${file}.raw > ${file}`;
}

const WAIT_GO = 'while [ ! -e /data/go ]; do sleep 0.05; done';

test('a container has a network namespace of its own: it reaches the bridge gateway, not the host\'s 127.0.0.1', async (t) => {
  const gateway = gatewayOf(w.net!.subnets[0]!);
  const onLoopback = await serve('127.0.0.1', 'host loopback');
  t.after(() => onLoopback.close());
  const { unit, data } = await start('netns', `${WAIT_GO}; . /data/ports; `
    + `${get('$GW', '$GWPORT', '/data/gw')}; ${get('127.0.0.1', '$LOPORT', '/data/lo')}; `
    + 'cat /etc/resolv.conf > /data/resolv; cat /etc/hosts > /data/hosts; hostname > /data/hostname; exec sleep 1000');
  // The bridge exists once the start job returned (ExecStartPre ran the plugins).
  const onGateway = await serve(gateway, 'host gateway');
  t.after(() => onGateway.close());
  await writeFile(join(data, 'ports'), `GW=${gateway}\nGWPORT=${onGateway.port}\nLOPORT=${onLoopback.port}\n`);
  await writeFile(join(data, 'go'), '');
  assert.equal((await waitForFile(join(data, 'gw.rc'))).trim(), '0', await readFile(join(data, 'gw.err'), 'utf8'));
  assert.equal(await readFile(join(data, 'gw'), 'utf8'), 'host gateway');
  assert.notEqual((await waitForFile(join(data, 'lo.rc'))).trim(), '0', 'the host\'s 127.0.0.1 is not the container\'s');
  assert.equal(await readFile(join(data, 'lo'), 'utf8').catch(() => ''), '');

  const init = containerInit(await mainPid(unit));
  assert.notEqual(await readlink(`/proc/${init}/ns/net`), await readlink('/proc/self/ns/net'));
  const address = await addressOf(w.net!.settings, 'default', 'netns');
  assert.match(await waitForFile(join(data, 'hosts')), new RegExp(`^${address.replace(/\./g, '\\.')}\\tnetns$`, 'm'));
  assert.equal((await waitForFile(join(data, 'hostname'))).trim(), 'netns');
  const hostServers = (await readFile('/etc/resolv.conf', 'utf8')).split('\n').filter((l) => /^nameserver\s/.test(l) && !/\s(127\.|::1)/.test(l));
  assert.deepEqual((await waitForFile(join(data, 'resolv'))).split('\n').filter((l) => l.startsWith('nameserver')), hostServers.map((l) => l.replace(/\s+/, ' ')));
  await w.systemd.stop(unit);
  assert.deepEqual(await w.net!.leftovers(['netns']), [], await readFile(w.units.paths('netns').output, 'utf8'));
});
