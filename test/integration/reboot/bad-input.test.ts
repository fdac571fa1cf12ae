/**
 * The reboot coordinator with an update staged and everything else wrong: an etcd endpoint
 * that does not answer, wrong credentials, a semaphore value someone else wrote, a window
 * that does not open while the test runs, FleetLock without a server, strategy off. Each
 * time the status says what is wrong and the host does not reboot. Real etcd, real disks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RebootStatus } from '../../../agent/api/agent1.js';
import { semaphoreKey } from '../../../agent/core/schedule/semaphore.js';
import { parseWindow } from '../../../agent/core/schedule/window.js';
import type { RebootSettings } from '../../../agent/daemon/reboot-coordinator.js';
import { EtcdClient } from '../../../agent/host/lock/etcd-client.js';
import { cloneDisk, makeDisk, type TestDisk } from '../../lib/disk.js';
import { freePort, startEtcd } from '../../lib/etcd.js';
import { tmpdir } from '../../lib/tmpdir.js';
import { SimHost } from './sim-host.js';

type HasAfter = { after(fn: () => unknown): void };

/** A host with an update staged, its coordinator started with `settings`. */
async function stagedHost(t: HasAfter, base: TestDisk, n: number, settings: RebootSettings, now?: () => Date): Promise<SimHost> {
  const dir = await tmpdir(t, `host-agent-bad${n}-`);
  const disk = await cloneDisk(base, dir);
  const host = new SimHost({ dir, disk: disk.path, n, settings, ...(now && { now }) });
  await host.install();
  t.after(() => host.stop());
  await host.stage();
  host.start();
  return host;
}

/** Let the host try for a while; it must not reboot. */
async function noReboot(host: SimHost, pred: (s: RebootStatus) => boolean, what: string): Promise<RebootStatus> {
  const status = await host.waitFor(pred, 10_000, what);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(host.reboots, 0, 'no reboot');
  assert.equal((await host.slots()).booted, 'A');
  return status;
}

test('bad input: clear status, no reboot', async (t) => {
  const etcd = await startEtcd(t);
  const base = await makeDisk(await tmpdir(t), 4);

  await t.test('etcd endpoint unreachable', async (t) => {
    const endpoint = `http://127.0.0.1:${await freePort()}`;
    const host = await stagedHost(t, base, 51, { strategy: 'etcd-lock', lock: { endpoint, retry: { attempts: 1 } } });
    const s = await noReboot(host, (s) => s.lastError?.code === 'lock.unreachable' && s.action === 'acquire-lock', 'lock.unreachable');
    assert.equal(s.action, 'acquire-lock');
    assert.match(s.lastError!.message, new RegExp(`cannot reach ${endpoint.replace(/[./]/g, '\\$&')}`));
    assert.equal(s.lock?.held, false);
  });

  await t.test('wrong etcd credentials', async (t) => {
    const secured = await startEtcd(t);
    const call = async (path: string, body: object) => {
      const res = await fetch(`${secured.endpoint}${path}`, { method: 'POST', body: JSON.stringify(body) });
      assert.equal(res.status, 200, await res.clone().text());
    };
    await call('/v3/auth/user/add', { name: 'root', password: 'root-secret' });
    await call('/v3/auth/user/grant', { user: 'root', role: 'root' });
    await call('/v3/auth/enable', {});
    const host = await stagedHost(t, base, 52, {
      strategy: 'etcd-lock', lock: { endpoint: secured.endpoint, username: 'root', password: 'guess' },
    });
    const s = await noReboot(host, (s) => s.lastError?.code === 'lock.auth-failed', 'lock.auth-failed');
    assert.match(s.lastError!.message, /etcd refused the username or password of "root"/);
  });

  await t.test('a malformed semaphore value written by someone else', async (t) => {
    const group = 'mangled';
    const client = new EtcdClient({ endpoints: [etcd.endpoint] });
    assert.equal(await client.createIfAbsent(semaphoreKey(group), '{"semaphore":"one"}'), true);
    const host = await stagedHost(t, base, 53, { strategy: 'etcd-lock', lock: { endpoint: etcd.endpoint, group } });
    const s = await noReboot(host, (s) => s.lastError?.code === 'lock.malformed-value', 'lock.malformed-value');
    assert.match(s.lastError!.message, /"semaphore" is not an integer/);
    assert.equal((await client.get(semaphoreKey(group))).kv?.value, '{"semaphore":"one"}', 'never overwritten');
  });

  await t.test('a window that does not open while we wait', async (t) => {
    const parsed = parseWindow('Sun 03:00', '1h');
    assert.ok(parsed.ok);
    const thursdayNoon = () => new Date('2026-01-01T12:00:00Z');
    const host = await stagedHost(t, base, 54, {
      strategy: 'etcd-lock', window: { start: 'Sun 03:00', length: '1h', window: parsed.value }, lock: { endpoint: etcd.endpoint, group: 'closed' },
    }, thursdayNoon);
    const s = await noReboot(host, (s) => s.action === 'wait-window', 'wait-window');
    assert.deepEqual(s.window, { start: 'Sun 03:00', length: '1h', zone: 'UTC', open: false, nextStart: '2026-01-04T03:00:00.000Z' });
    assert.equal(s.message, 'reboot needed, waiting for the maintenance window at 2026-01-04T03:00:00.000Z');
    assert.equal(s.lock?.held, false, 'no slot outside the window');
    assert.deepEqual(s.lock?.semaphore?.holders, []);
  });

  await t.test('fleetlock without a server URL', async (t) => {
    const host = await stagedHost(t, base, 55, { strategy: 'fleetlock', lock: {} });
    const s = await noReboot(host, (s) => s.action === 'error', 'an error');
    assert.equal(s.lastError?.code, 'lock.no-endpoint');
    assert.match(s.message, /reboot-strategy fleetlock needs the FleetLock server URL.*coreos\.locksmith\.endpoint/);
  });

  await t.test('strategy off: status says a reboot is needed', async (t) => {
    const host = await stagedHost(t, base, 56, { strategy: 'off', lock: {} });
    const s = await noReboot(host, (s) => s.action === 'report-reboot-needed', 'report-reboot-needed');
    assert.equal(s.rebootNeeded, true);
    assert.equal(s.message, 'reboot needed (reboot-strategy is off: reboot by hand)');
    assert.equal(s.lock, undefined);
  });
});
