/**
 * The fleet scenario of docs/reboots.md with real etcd (test/lib/etcd.ts) and real reboot
 * coordinators: five hosts, each with its own GPT disk image, machine id and state dir, an
 * update staged on all of them at once, `max: 1`. The key's history (revision by revision)
 * must never show two holders; every host reboots (boot simulator) only while holding the
 * slot and releases it after its new boot is marked good. The same through a FleetLock
 * server. A holder killed with SIGKILL (a child process) releases after its restart; a
 * host waiting while etcd is stopped keeps retrying and never reboots without the slot.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { RebootStatus } from '../../../agent/api/agent1.js';
import { parseSemaphore, semaphoreKey, type Semaphore } from '../../../agent/core/schedule/semaphore.js';
import { parseWindow } from '../../../agent/core/schedule/window.js';
import type { RebootSettings } from '../../../agent/daemon/reboot-coordinator.js';
import { openEtcdLock } from '../../../agent/host/lock/open.js';
import { cgptAttributes, cloneDisk, makeDisk, type TestDisk } from '../../lib/disk.js';
import { keyHistory, startEtcd, type EtcdServer } from '../../lib/etcd.js';
import { startFleetLockServer } from '../../lib/fleetlock-server.js';
import { REPO } from '../../lib/repo.js';
import { tmpdir } from '../../lib/tmpdir.js';
import { machineId, SimHost } from './sim-host.js';

const CHILD = fileURLToPath(new URL('./host-child.ts', import.meta.url));

/** A daily window (UTC) that opened a minute ago and lasts two hours. */
function openWindow(): NonNullable<RebootSettings['window']> {
  const at = new Date(Date.now() - 60_000);
  const start = `${at.getUTCHours()}:${at.getUTCMinutes()}`;
  const parsed = parseWindow(start, '2h');
  assert.ok(parsed.ok, !parsed.ok ? parsed.problem : '');
  return { start, length: '2h', window: parsed.value };
}

async function history(endpoint: string, key: string): Promise<Semaphore[]> {
  return (await keyHistory(endpoint, key)).map((text) => {
    const parsed = parseSemaphore(text);
    assert.ok(typeof parsed !== 'string', `${text}: ${parsed}`);
    return parsed;
  });
}

/** Holders of the semaphore now (the FleetLock server keeps its slots there too). */
async function holdersNow(endpoint: string, group?: string): Promise<string[]> {
  const lock = openEtcdLock({ endpoint, id: 'observer', ...(group && { group }) });
  return (await lock.read()).semaphore.holders;
}

interface Fleet {
  hosts: SimHost[];
  violations: string[];
}

async function makeFleet(t: { after(fn: () => unknown): void }, base: TestDisk, first: number, count: number,
  settings: RebootSettings, etcd: EtcdServer, key: { group?: string }): Promise<Fleet> {
  const violations: string[] = [];
  const hosts: SimHost[] = [];
  for (let n = first; n < first + count; n++) {
    const dir = await tmpdir(t, `host-agent-host${n}-`);
    const disk = await cloneDisk(base, dir);
    const host = new SimHost({
      dir, disk: disk.path, n, settings,
      onReboot: async (h) => {
        const holders = await holdersNow(etcd.endpoint, key.group);
        if (holders.length !== 1 || holders[0] !== h.id) violations.push(`host ${n} rebooted while the holders were [${holders.join(', ')}]`);
      },
    });
    await host.install();
    hosts.push(host);
  }
  t.after(() => Promise.all(hosts.map((h) => h.stop())));
  return { hosts, violations };
}

const released = (s: RebootStatus) => s.action === 'idle' && s.bootMarkedGood && s.lock?.held === false;

async function runFleet(fleet: Fleet, endpoint: string, key: string): Promise<void> {
  for (const h of fleet.hosts) h.start();
  await Promise.all(fleet.hosts.map((h) => h.waitFor((s) => s.action === 'idle' && s.lock !== undefined, 10_000, 'first pass')));
  await Promise.all(fleet.hosts.map((h) => h.stage())); // updates staged at once
  await Promise.all(fleet.hosts.map((h) => h.waitFor((s) => h.reboots === 1 && released(s), 30_000, 'reboot and release')));

  assert.deepEqual(fleet.violations, []);
  for (const h of fleet.hosts) {
    const { booted, good } = await h.slots();
    assert.equal(booted, 'B', `host ${h.options.n} runs the update`);
    assert.equal(good, true);
    assert.deepEqual(await cgptAttributes(h.options.disk, 'B'), { priority: 2, tries: 0, successful: true }, 'cgpt reads the mark too');
    assert.equal(h.reboots, 1);
  }
  const values = await history(endpoint, key);
  for (const v of values) {
    assert.ok(v.holders.length <= 1, `two holders at once: ${v.holders.join(', ')}`);
    assert.equal(v.semaphore, v.max - v.holders.length);
  }
  const takers = values.filter((v) => v.holders.length === 1).map((v) => v.holders[0]!);
  assert.deepEqual([...takers].sort(), fleet.hosts.map((h) => h.id).sort(), 'each host took the slot exactly once');
  assert.deepEqual(values.at(-1)?.holders, [], 'every slot was given back');
}

test('reboot coordination of a fleet', async (t) => {
  const etcd = await startEtcd(t);
  const base = await makeDisk(await tmpdir(t), 4);
  const window = openWindow();

  await t.test('etcd-lock: five hosts, max 1, updates staged at once', async (t) => {
    const group = 'fleet';
    const settings: RebootSettings = { strategy: 'etcd-lock', window, lock: { endpoint: etcd.endpoint, group } };
    const fleet = await makeFleet(t, base, 1, 5, settings, etcd, { group });
    await runFleet(fleet, etcd.endpoint, semaphoreKey(group));
  });

  await t.test('fleetlock: five hosts through a FleetLock server on etcd', async (t) => {
    const server = await startFleetLockServer(t, etcd.endpoint);
    const group = 'fleetlock-fleet';
    const settings: RebootSettings = { strategy: 'fleetlock', window, lock: { endpoint: server.url, group } };
    const fleet = await makeFleet(t, base, 11, 5, settings, etcd, { group });
    await runFleet(fleet, etcd.endpoint, semaphoreKey(group));
    const ops = server.requests.filter((r) => r.status === 200).map((r) => r.op);
    assert.equal(ops.filter((o) => o === 'steady-state').length >= 5, true, 'each host reported steady state');
  });

  for (const strategy of ['etcd-lock', 'fleetlock'] as const) {
    await t.test(`${strategy}: a holder killed with SIGKILL before release releases after its restart`, async (t) => {
      const group = `killed-${strategy}`;
      const server = strategy === 'fleetlock' ? await startFleetLockServer(t, etcd.endpoint) : undefined;
      const endpoint = server ? server.url : etcd.endpoint;
      const dir = await tmpdir(t, 'host-agent-child-');
      const disk = await cloneDisk(base, dir);
      const n = strategy === 'etcd-lock' ? 21 : 22;
      const spec = JSON.stringify({ dir, disk: disk.path, n, strategy, endpoint, group, window: [window.start, window.length] });

      const first = startChild(t, spec, 'install');
      await first.line((l) => l === 'ready');
      first.send('stage');
      await first.line((l) => l === 'rebooted'); // holding the slot, booted the new slot, not yet marked good
      assert.deepEqual(await holdersNow(etcd.endpoint, group), [machineId(n)]);
      process.kill(first.child.pid!, 'SIGKILL');
      await first.exited;
      assert.deepEqual(await holdersNow(etcd.endpoint, group), [machineId(n)], 'a killed holder keeps its slot');

      // Another host with an update staged waits meanwhile.
      const settings: RebootSettings = { strategy, window, lock: { endpoint, group } };
      const other = await makeFleet(t, base, n + 10, 1, settings, etcd, { group });
      const waiter = other.hosts[0]!;
      waiter.start();
      await waiter.stage();
      await waiter.waitFor((s) => s.action === 'acquire-lock' && s.lock?.lastTry !== undefined, 10_000, 'a refused try');
      assert.equal(waiter.reboots, 0);

      const second = startChild(t, spec, 'boot');
      const status = await second.line((l) => {
        const s = l.startsWith('{') ? (JSON.parse(l) as RebootStatus) : undefined;
        return s !== undefined && released(s);
      });
      assert.ok(status);
      await waiter.waitFor((s) => waiter.reboots === 1 && released(s), 20_000, 'the waiter reboots after the release');
      assert.deepEqual(other.violations, []);
      second.child.kill('SIGTERM');
      await second.exited;
      const takers = (await history(etcd.endpoint, semaphoreKey(group))).filter((v) => v.holders.length > 0).map((v) => v.holders);
      assert.deepEqual(takers, [[machineId(n)], [waiter.id]]);
    });
  }

  await t.test('etcd stopped while a host waits: it keeps retrying and never reboots without the slot', async (t) => {
    const group = 'outage';
    const holder = openEtcdLock({ endpoint: etcd.endpoint, id: machineId(40), group });
    assert.deepEqual(await holder.acquire(), { acquired: true });
    const settings: RebootSettings = { strategy: 'etcd-lock', window, lock: { endpoint: etcd.endpoint, group, timeoutMs: 500, retry: { attempts: 1 } } };
    const fleet = await makeFleet(t, base, 41, 1, settings, etcd, { group });
    const host = fleet.hosts[0]!;
    host.start();
    await host.stage();
    await host.waitFor((s) => s.action === 'acquire-lock' && s.lock?.lastTry !== undefined, 10_000, 'a refused try');

    await etcd.stop();
    const seen = await host.waitFor((s) => s.lastError?.code === 'lock.unreachable', 10_000, 'the outage in the status');
    assert.equal(seen.action, 'acquire-lock');
    const tries = new Set<string>();
    await host.waitFor((s) => {
      if (s.lock?.lastTry) tries.add(s.lock.lastTry.at);
      return tries.size >= 3;
    }, 10_000, 'more tries during the outage');
    assert.equal(host.reboots, 0, 'no reboot without the slot');

    await etcd.start();
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(host.reboots, 0, 'etcd is back but the slot is still taken');
    await holder.release();
    await host.waitFor((s) => host.reboots === 1 && released(s), 20_000, 'reboot after the slot is free');
    assert.deepEqual(fleet.violations, []);
    assert.equal(host.last?.lastError, undefined, 'the error is cleared once the slot is taken');
  });
});

interface Child {
  child: ChildProcess;
  exited: Promise<void>;
  /** Resolve with the first output line (from now on) that satisfies `pred`. */
  line(pred: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  send(command: string): void;
}

function startChild(t: { after(fn: () => unknown): void }, spec: string, mode: 'install' | 'boot'): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, mode, spec], { cwd: REPO, stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGKILL');
    await exited;
  });
  const lines = createInterface({ input: child.stdout! });
  return {
    child,
    exited,
    send: (command) => child.stdin!.write(`${command}\n`),
    line: (pred, timeoutMs = 20_000) => new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`child: no matching line in ${timeoutMs} ms`)), timeoutMs);
      const onLine = (l: string): void => {
        if (!pred(l)) return;
        clearTimeout(timer);
        lines.off('line', onLine);
        resolve(l);
      };
      lines.on('line', onLine);
    }),
  };
}

