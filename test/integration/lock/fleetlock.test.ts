/**
 * The FleetLock client against a small FleetLock server (test/lib/fleetlock-server.ts) backed
 * by a real etcd: the contention scenario with the key's history checked, the protocol's
 * header and body, an etcd outage behind the server, an unreachable server.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isAgentError } from '../../../agent/core/errors.js';
import { parseSemaphore, semaphoreKey, type Semaphore } from '../../../agent/core/schedule/semaphore.js';
import { FleetLockClient } from '../../../agent/host/lock/fleetlock.js';
import { postJson } from '../../../agent/host/lock/http.js';
import { openRebootLock } from '../../../agent/host/lock/open.js';
import { delay } from '../../../agent/host/lock/retry.js';
import { waitForLock, type WaitReport } from '../../../agent/host/lock/wait.js';
import { freePort, keyHistory, startEtcd } from '../../lib/etcd.js';
import { startFleetLockServer } from '../../lib/fleetlock-server.js';

const machineId = (n: number) => `${String(n).repeat(4)}${'f'.repeat(28)}`.slice(0, 32);
const FAST_RETRY = { attempts: 2, backoff: { initialMs: 10, maxMs: 50, factor: 2 } };

const clientFor = (baseUrl: string, id: string, group?: string) =>
  new FleetLockClient({ baseUrl, id, retry: FAST_RETRY, timeoutMs: 2000, ...(group !== undefined && { group }) });

/** The semaphore values the key took, oldest first, from etcd's history. */
async function history(endpoint: string, key: string): Promise<Semaphore[]> {
  return (await keyHistory(endpoint, key)).map((text) => {
    const parsed = parseSemaphore(text);
    assert.ok(typeof parsed !== 'string', `${text}: ${parsed}`);
    return parsed;
  });
}

test('FleetLock', async (t) => {
  const etcd = await startEtcd(t);
  const server = await startFleetLockServer(t, etcd.endpoint);

  await t.test('five hosts at once through FleetLock: one at a time, each releases', async () => {
    const ids = [1, 2, 3, 4, 5].map(machineId);
    const rebooted: string[] = [];
    let holding = 0;
    await Promise.all(ids.map(async (id) => {
      const lock = clientFor(server.url, id, 'workers');
      await waitForLock(lock, { pollMs: 15 });
      assert.equal(++holding, 1, 'two hosts hold the lock');
      await delay(30);
      rebooted.push(id);
      holding--;
      await lock.release();
    }));
    const values = await history(etcd.endpoint, semaphoreKey('workers'));
    for (const v of values) assert.ok(v.holders.length <= 1, v.holders.join(', '));
    const order = values.filter((v) => v.holders.length === 1).map((v) => v.holders[0]);
    assert.deepEqual(order, rebooted);
    assert.deepEqual(values.at(-1), { semaphore: 1, max: 1, holders: [] });

    // The protocol: every request named its id and group; refusals were 409s.
    const mine = server.requests.filter((r) => r.group === 'workers');
    assert.ok(mine.every((r) => r.id !== undefined && ids.includes(r.id)));
    assert.equal(mine.filter((r) => r.op === 'pre-reboot' && r.status === 200).length, 5);
    assert.equal(mine.filter((r) => r.op === 'steady-state' && r.status === 200).length, 5);
    assert.ok(mine.some((r) => r.op === 'pre-reboot' && r.status === 409), 'some hosts had to wait');
  });

  await t.test('the client speaks the protocol: header, body, default group', async () => {
    const lock = openRebootLock({ strategy: 'fleetlock', endpoint: server.url, id: machineId(6) });
    assert.equal(lock.backend, 'fleetlock');
    assert.deepEqual(await lock.acquire(), { acquired: true });
    assert.deepEqual(server.requests.at(-1), { op: 'pre-reboot', status: 200, id: machineId(6), group: 'default' });
    const other = clientFor(server.url, machineId(7));
    const refused = await other.acquire();
    assert.equal(refused.acquired, false);
    assert.match(refused.acquired ? '' : refused.reason,
      new RegExp(`the FleetLock server refused: failed_lock: all 1 slot is taken \\(holders: ${machineId(6)}\\)`));
    assert.deepEqual(await lock.status(), { backend: 'fleetlock', id: machineId(6), group: 'default', held: undefined });
    await lock.release();
    assert.deepEqual(server.requests.at(-1), { op: 'steady-state', status: 200, id: machineId(6), group: 'default' });

    // Without the header the server refuses: the header is what makes a FleetLock request.
    const raw = await postJson(`${server.url}/v1/pre-reboot`, { client_params: { id: 'x', group: 'default' } }, {});
    assert.equal(raw.status, 400);
    assert.deepEqual(raw.json, { kind: 'missing_header', value: 'the fleet-lock-protocol header must be "true"' });
  });

  await t.test('etcd stopped behind the server: the host keeps retrying and gets no slot until it is back', async (t) => {
    const holder = clientFor(server.url, machineId(1), 'outage');
    const waiter = clientFor(server.url, machineId(2), 'outage');
    assert.deepEqual(await holder.acquire(), { acquired: true });
    const reports: WaitReport[] = [];
    const abort = new AbortController();
    t.after(() => abort.abort());
    let acquired = false;
    const waiting = waitForLock(waiter, { pollMs: 20, maxPollMs: 100, signal: abort.signal, onTry: (r) => reports.push(r) })
      .then(() => (acquired = true));
    await delay(100);
    await etcd.stop();
    const before = reports.length;
    await delay(1000);
    const errors = reports.slice(before).filter((r): r is { acquired: false; error: unknown } => 'error' in r);
    assert.ok(errors.length >= 2, `kept trying (${errors.length} failed tries)`);
    for (const r of errors) assert.ok(isAgentError(r.error, 'lock.fleetlock-unavailable'), String(r.error));
    assert.equal(acquired, false);
    await etcd.start();
    await delay(150);
    assert.equal(acquired, false, 'the other host still holds the slot');
    await holder.release();
    await waiting;
    const timeline = (await history(etcd.endpoint, semaphoreKey('outage'))).map((v) => v.holders);
    assert.deepEqual(timeline, [[], [machineId(1)], [], [machineId(2)]]);
    await waiter.release();
  });
});

test('FleetLock server unreachable: a clear error', async () => {
  const port = await freePort();
  const lock = clientFor(`http://127.0.0.1:${port}/`, machineId(1));
  await assert.rejects(lock.acquire(), (e) => {
    assert.ok(isAgentError(e, 'lock.unreachable'), String(e));
    assert.match(e.describe(), /cannot reach http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/);
    return true;
  });
  await assert.rejects(lock.release(), (e) => isAgentError(e, 'lock.unreachable'));
  assert.throws(() => openRebootLock({ strategy: 'fleetlock', id: machineId(1) }), (e) =>
    isAgentError(e, 'lock.no-endpoint') && /coreos\.locksmith\.endpoint/.test(e.hint ?? ''));
});
