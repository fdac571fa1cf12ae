/**
 * The locksmith semaphore against a real etcd (apt etcd-server) on loopback: contention with
 * the key's history checked revision by revision, a holder killed with SIGKILL, an etcd outage
 * while a host waits, admin operations, and the clear errors for bad setups.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { isAgentError, type AgentError } from '../../../agent/core/errors.js';
import { parseSemaphore, semaphoreKey, type Semaphore } from '../../../agent/core/schedule/semaphore.js';
import { EtcdClient } from '../../../agent/host/lock/etcd-client.js';
import { EtcdSemaphoreLock } from '../../../agent/host/lock/etcd-lock.js';
import type { TlsFiles } from '../../../agent/host/lock/http.js';
import { openEtcdLock } from '../../../agent/host/lock/open.js';
import { delay } from '../../../agent/host/lock/retry.js';
import { waitForLock, type WaitReport } from '../../../agent/host/lock/wait.js';
import { freePort, keyHistory, makeTls, startEtcd } from '../../lib/etcd.js';
import { tmpdir } from '../../lib/tmpdir.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const CHILD = fileURLToPath(new URL('./holder-child.ts', import.meta.url));

/** A machine id per simulated host. */
const machineId = (n: number) => `${String(n).repeat(4)}${'0'.repeat(28)}`.slice(0, 32);

const FAST_RETRY = { attempts: 2, backoff: { initialMs: 10, maxMs: 50, factor: 2 } };

function lockFor(endpoint: string, id: string, group?: string): EtcdSemaphoreLock {
  const client = new EtcdClient({ endpoints: [endpoint], timeoutMs: 2000, retry: FAST_RETRY });
  return new EtcdSemaphoreLock({ client, id, ...(group !== undefined && { group }) });
}

/** Every value the key took, in order, read back from etcd's history one revision at a time. */
/** The semaphore values the key took, oldest first, from etcd's history. */
async function history(endpoint: string, key: string): Promise<Semaphore[]> {
  return (await keyHistory(endpoint, key)).map((text) => {
    const parsed = parseSemaphore(text);
    assert.ok(typeof parsed !== 'string', `${text}: ${parsed}`);
    return parsed;
  });
}

/** Holder sets as they changed, e.g. [[], ['a'], [], ['b'], []]. */
const holderTimeline = (values: Semaphore[]) => values.map((v) => v.holders);

async function expectLockError(promise: Promise<unknown>, code: string): Promise<AgentError> {
  try {
    await promise;
  } catch (e) {
    assert.ok(isAgentError(e, code), `expected ${code}, got ${String(e)}`);
    return e;
  }
  assert.fail(`expected ${code}, got success`);
}

test('etcd semaphore', async (t) => {
  const etcd = await startEtcd(t);

  await t.test('five hosts with max 1 at once: one holder at a time, each reboots and releases', async () => {
    const group = 'contention';
    const ids = [1, 2, 3, 4, 5].map(machineId);
    const rebooted: string[] = [];
    let holding = 0;
    await Promise.all(ids.map(async (id) => {
      const lock = lockFor(etcd.endpoint, id, group);
      await waitForLock(lock, { pollMs: 15 });
      holding++;
      assert.equal(holding, 1, 'two hosts hold the lock');
      assert.deepEqual((await lock.status()).semaphore?.holders, [id]);
      await delay(30); // the reboot
      rebooted.push(id);
      holding--;
      await lock.release();
    }));
    assert.deepEqual([...rebooted].sort(), ids);

    const values = await history(etcd.endpoint, semaphoreKey(group));
    assert.deepEqual(values[0], { semaphore: 1, max: 1, holders: [] }, 'created free, as locksmith does');
    for (const v of values) {
      assert.ok(v.holders.length <= 1, `more than one holder: ${v.holders.join(', ')}`);
      assert.equal(v.semaphore, v.max - v.holders.length);
    }
    const timeline = holderTimeline(values);
    assert.equal(timeline.length, 1 + 2 * ids.length, 'each host took and gave back the slot once');
    const order = timeline.filter((h) => h.length === 1).map((h) => h[0]);
    assert.deepEqual(order, rebooted, 'the lock passed in the order the hosts rebooted');
    assert.deepEqual(values.at(-1), { semaphore: 1, max: 1, holders: [] });
  });

  await t.test('max 2 lets two hosts in at once, never three', async () => {
    const group = 'pairs';
    const admin = lockFor(etcd.endpoint, 'admin', group);
    assert.deepEqual(await admin.setMax(2), { semaphore: 2, max: 2, holders: [] });
    let holding = 0;
    let most = 0;
    await Promise.all([6, 7, 8, 9].map(async (n) => {
      const lock = lockFor(etcd.endpoint, machineId(n), group);
      await waitForLock(lock, { pollMs: 15 });
      most = Math.max(most, ++holding);
      await delay(40);
      holding--;
      await lock.release();
    }));
    assert.equal(most, 2);
    for (const v of await history(etcd.endpoint, semaphoreKey(group))) assert.ok(v.holders.length <= 2);
  });

  await t.test('a holder killed with SIGKILL keeps its slot; on restart after a good boot it releases it', async (t) => {
    const id = machineId(7);
    const other = lockFor(etcd.endpoint, machineId(8));
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, 'hold', etcd.endpoint, id], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    t.after(() => {
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGKILL');
    });
    const [line] = await once(child.stdout, 'data') as [Buffer];
    assert.equal(line.toString().trim(), 'held');
    process.kill(child.pid!, 'SIGKILL');
    await once(child, 'exit');

    const status = await other.status();
    assert.deepEqual(status.semaphore, { available: 0, max: 1, holders: [id] });
    assert.deepEqual(await other.acquire(), { acquired: false, reason: `all 1 slot is taken (holders: ${id})` });

    const restart = spawn(process.execPath, ['--import', 'tsx', CHILD, 'start', etcd.endpoint, id], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    restart.stdout.on('data', (chunk: Buffer) => (out += chunk));
    const [code] = await once(restart, 'exit') as [number];
    assert.equal(code, 0);
    assert.deepEqual(JSON.parse(out), { heldOnStart: true, action: { kind: 'release-lock', reason: 'rebooted' } });
    assert.deepEqual((await other.status()).semaphore, { available: 1, max: 1, holders: [] });
    assert.deepEqual(await other.acquire(), { acquired: true });
    await other.release();
  });

  await t.test('admin: unlock another holder, set max, idempotent acquire and release', async () => {
    const group = 'admin';
    const a = lockFor(etcd.endpoint, machineId(1), group);
    const b = lockFor(etcd.endpoint, machineId(2), group);
    assert.deepEqual(await a.acquire(), { acquired: true });
    assert.deepEqual(await a.acquire(), { acquired: true }, 'acquiring a held slot succeeds');
    assert.equal((await b.acquire()).acquired, false);
    assert.equal(await b.unlock(machineId(1)), true, 'locksmithctl unlock ID');
    assert.equal(await b.unlock(machineId(1)), false, 'nothing left to unlock');
    assert.equal((await a.status()).held, false);
    await a.release(); // not held: nothing to do
    assert.deepEqual(await b.acquire(), { acquired: true });
    assert.deepEqual(await a.setMax(0), { semaphore: -1, max: 0, holders: [machineId(2)] });
    assert.equal((await a.acquire()).acquired, false);
    await b.release();
    assert.deepEqual((await b.status()).semaphore, { available: 0, max: 0, holders: [] });
    await expectLockError(a.setMax(-1), 'lock.bad-max');
  });
});

test('etcd stopped while a host waits: it keeps retrying and never gets the lock without etcd', async (t) => {
  const etcd = await startEtcd(t);
  const holder = lockFor(etcd.endpoint, machineId(1));
  const waiter = lockFor(etcd.endpoint, machineId(2));
  assert.deepEqual(await holder.acquire(), { acquired: true });

  const reports: WaitReport[] = [];
  const abort = new AbortController();
  let acquiredAt: number | undefined;
  const waiting = waitForLock(waiter, {
    pollMs: 20,
    maxPollMs: 100,
    signal: abort.signal,
    onTry: (r) => reports.push(r),
  }).then(() => (acquiredAt = Date.now()));
  t.after(() => abort.abort());

  await delay(150);
  assert.ok(reports.length > 0 && reports.every((r): boolean => !r.acquired && 'reason' in r), 'refused while held');
  await etcd.stop();
  const triesBefore = reports.length;
  await delay(1200);
  const during = reports.slice(triesBefore);
  assert.ok(during.length >= 3, `kept trying while etcd was down (${during.length} tries)`);
  const errors = during.filter((r): r is { acquired: false; error: unknown } => 'error' in r);
  assert.ok(errors.length > 0);
  for (const r of errors) assert.ok(isAgentError(r.error, 'lock.unreachable'), String(r.error));
  assert.equal(acquiredAt, undefined);

  await etcd.start();
  await delay(200);
  assert.equal(acquiredAt, undefined, 'still held by the other host after etcd came back');
  const releasedAt = Date.now();
  await holder.release();
  await waiting;
  assert.ok(acquiredAt! >= releasedAt);
  assert.deepEqual((await waiter.status()).semaphore?.holders, [machineId(2)]);
  assert.deepEqual(holderTimeline(await history(etcd.endpoint, semaphoreKey())),
    [[], [machineId(1)], [], [machineId(2)]]);
});

test('clear errors: unreachable endpoint, malformed value written by someone else', async (t) => {
  const port = await freePort();
  const nowhere = lockFor(`http://127.0.0.1:${port}`, machineId(1));
  const unreachable = await expectLockError(nowhere.acquire(), 'lock.unreachable');
  assert.equal(unreachable.subject, `http://127.0.0.1:${port}`);
  assert.match(unreachable.describe(), /cannot reach http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED\. Check the endpoint URL/);

  const etcd = await startEtcd(t);
  const client = new EtcdClient({ endpoints: [etcd.endpoint] });
  const key = semaphoreKey('mangled');
  assert.equal(await client.createIfAbsent(key, 'rebooting, do not touch'), true);
  const lock = lockFor(etcd.endpoint, machineId(1), 'mangled');
  for (const op of [() => lock.acquire(), () => lock.release(), () => lock.status(), () => lock.setMax(3)]) {
    const error = await expectLockError(op(), 'lock.malformed-value');
    assert.equal(error.subject, 'coreos.com/updateengine/rebootlock/groups/mangled/semaphore');
    assert.match(error.message, /cannot read \(the value is not JSON\): rebooting, do not touch/);
    assert.match(error.hint ?? '', /will not overwrite it/);
  }
  assert.equal((await client.get(key)).kv?.value, 'rebooting, do not touch', 'left as it was');

  // Fails over to the next endpoint of coreos.locksmith.endpoint when the first does not answer.
  const both = openEtcdLock({ endpoint: `http://127.0.0.1:${port}, ${etcd.endpoint}`, id: machineId(1), retry: FAST_RETRY });
  assert.deepEqual(await both.acquire(), { acquired: true });
  assert.equal((await both.status()).held, true);
});

test('etcd with authentication: right, wrong and missing credentials, no permission', async (t) => {
  const etcd = await startEtcd(t);
  const call = async (path: string, body: object, headers: Record<string, string> = {}) => {
    const res = await fetch(`${etcd.endpoint}${path}`, { method: 'POST', body: JSON.stringify(body), headers });
    assert.equal(res.status, 200, `${path}: ${await res.clone().text()}`);
  };
  await call('/v3/auth/user/add', { name: 'root', password: 'root-secret' });
  await call('/v3/auth/user/grant', { user: 'root', role: 'root' });
  await call('/v3/auth/user/add', { name: 'guest', password: 'guest-secret' });
  await call('/v3/auth/enable', {});

  const withAuth = (username?: string, password?: string) => new EtcdSemaphoreLock({
    client: new EtcdClient({
      endpoints: [etcd.endpoint],
      retry: FAST_RETRY,
      ...(username !== undefined && { username }),
      ...(password !== undefined && { password }),
    }),
    id: machineId(3),
  });

  const good = withAuth('root', 'root-secret');
  assert.deepEqual(await good.acquire(), { acquired: true });
  assert.equal((await good.status()).held, true);
  await good.release();

  const wrong = await expectLockError(withAuth('root', 'guess').acquire(), 'lock.auth-failed');
  assert.match(wrong.describe(), /etcd refused the username or password of "root"\. Check etcd_username and etcd_password/);
  const missing = await expectLockError(withAuth().acquire(), 'lock.auth-required');
  assert.match(missing.describe(), /etcd requires authentication\. Set etcd_username and etcd_password/);
  const denied = await expectLockError(withAuth('guest', 'guest-secret').status(), 'lock.permission-denied');
  assert.match(denied.hint ?? '', /coreos\.com\/updateengine\/rebootlock/);
});

test('etcd over TLS with client certificates (etcd_cafile, etcd_certfile, etcd_keyfile)', async (t) => {
  const tls = await makeTls(await tmpdir(t));
  const etcd = await startEtcd(t, { tls });
  assert.match(etcd.endpoint, /^https:/);
  const over = (files: TlsFiles) => new EtcdSemaphoreLock({
    client: new EtcdClient({ endpoints: [etcd.endpoint], tls: files, retry: FAST_RETRY }),
    id: machineId(4),
  });
  const good = over(tls);
  assert.deepEqual(await good.acquire(), { acquired: true });
  assert.equal((await good.status()).held, true);
  await good.release();

  const untrusted = await expectLockError(over({ certFile: tls.certFile, keyFile: tls.keyFile }).status(), 'lock.tls');
  assert.match(untrusted.describe(), /TLS with https:\/\/127\.0\.0\.1:\d+ failed: .*Check that the CA file signed/);
  const noFile = await expectLockError(over({ ...tls, caFile: '/nonexistent/ca.pem' }).status(), 'lock.tls');
  assert.equal(noFile.subject, '/nonexistent/ca.pem');
  assert.match(noFile.message, /cannot read the TLS ca file/);
  // Without a client certificate etcd refuses the handshake.
  const noCert = await expectLockError(over({ caFile: tls.caFile }).acquire(), 'lock.tls');
  assert.match(noCert.message, /bad certificate/);
});
