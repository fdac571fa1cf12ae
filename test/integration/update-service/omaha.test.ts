/**
 * The update service in Omaha mode against the Nebraska-like server of test/lib/omaha-server.ts,
 * on real GPT disk images (cgpt checks), payloads signed by real gpg and served from loopback:
 * the server's answers (noupdate, each refusal, malformed ones) in status; a payload without a
 * valid signature never becomes bootable; the events of a full cycle (13/1, 14/1, 3/1, then 3/2
 * with previousversion after the reboot) and of a fallback (3/0 errorcode 44); and a five-host
 * fleet driven by the server's rollout policy with the real etcd reboot lock, where no host
 * takes an update the server did not grant.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { renderUpdateStatus } from '../../../agent/cli/verbs/update.js';
import { COREOS_APP_ID } from '../../../agent/core/update/omaha.js';
import { openEtcdLock } from '../../../agent/host/lock/open.js';
import { parseSemaphore, semaphoreKey } from '../../../agent/core/schedule/semaphore.js';
import { cgptAttributes } from '../../lib/disk.js';
import { keyHistory, startEtcd } from '../../lib/etcd.js';
import { okUpdatecheck, responseXml, startOmahaServer, type OmahaPackage, type OmahaServer, type RolloutPolicy } from '../../lib/omaha-server.js';
import { imageBytes } from '../update/helpers/release.js';
import { GROUP, makeWorld, suiteFixtures, versionIn, type World } from '../update/helpers/world.js';
import { makeService, trustReleaseKey, type ServiceRig } from './helpers.js';

const fixtures = suiteFixtures();

const OPEN: RolloutPolicy = { updatesEnabled: true, safeMode: false, maxUpdatesPerPeriod: 100, periodMs: 3600_000 };

/** Publish `version` as an Omaha payload under `<channel>/omaha/`, signed by the world's key unless told otherwise. */
async function publishPayload(w: World, version: string, sign: 'good' | 'none' = 'good'): Promise<OmahaPackage> {
  const image = imageBytes(version, w.imageSize);
  w.images.set(version, image);
  const dir = join(w.dir, 'channel', 'omaha');
  await mkdir(dir, { recursive: true });
  const name = `usr-${version}.img`;
  await writeFile(join(dir, name), image);
  if (sign === 'good') await w.gpg.sign(join(dir, name), w.key);
  return { version, name, size: image.length, sha256: createHash('sha256').update(image).digest('base64'), codebase: `${w.server.url}/omaha/` };
}

interface HasAfter {
  after(fn: () => unknown): void;
}

/** The update service of `w` in Omaha mode, running `version`, with the world's machine id and boot id. */
async function omahaHost(t: HasAfter, w: World, omaha: OmahaServer, version: string, more: Parameters<typeof makeService>[3] = {}): Promise<ServiceRig> {
  const machineIdPath = join(w.dir, 'machine-id');
  const bootIdPath = join(w.dir, 'boot_id');
  await writeFile(machineIdPath, `${createHash('md5').update(w.dir).digest('hex')}\n`, { flag: 'wx' }).catch(() => undefined);
  await writeFile(bootIdPath, `${randomUUID()}\n`, { flag: 'wx' }).catch(() => undefined);
  const oemReleasePath = join(w.dir, 'oem-release');
  return makeService(t, w, version, { channel: { server: omaha.url, group: GROUP }, omaha: { machineIdPath, bootIdPath, oemReleasePath }, ...more });
}

/** The bootloader runs again: a new boot id, the command line of the slot it picked. */
async function reboot(w: World): Promise<void> {
  await writeFile(join(w.dir, 'boot_id'), `${randomUUID()}\n`);
  await w.boot();
}

const machineOf = async (w: World): Promise<string> => (await readFile(join(w.dir, 'machine-id'), 'utf8')).trim();
const eventsOf = async (omaha: OmahaServer, w: World): Promise<string[]> =>
  (omaha.instances.get(await machineOf(w))?.events ?? []).map((e) => `${e.type}/${e.result}${e.errorCode !== undefined ? ` errorcode=${e.errorCode}` : ''}${e.previousVersion !== undefined ? ` previousversion=${e.previousVersion}` : ''}`);

test('the server\'s answers: noupdate and refusals in status, malformed answers as errors', async (t) => {
  const omaha = await startOmahaServer(t, COREOS_APP_ID);
  omaha.groups.set(GROUP, { policy: { ...OPEN } });
  const w = await makeWorld(t, fixtures.template, fixtures.keys);
  await trustReleaseKey(w);
  await writeFile(join(w.dir, 'oem-release'), 'ID=qemu\nVERSION_ID="0.1"\nNAME="QEMU"\n');
  const { service, log } = await omahaHost(t, w, omaha, '1.0.0');

  let s = await service.check();
  assert.equal(s.state, 'IDLE');
  assert.equal(s.protocol, 'omaha');
  assert.equal(s.omaha?.status, 'noupdate');
  assert.ok(s.omaha?.at);
  assert.equal(s.lastError, undefined);
  const request = omaha.requests[0]!.body;
  assert.match(request, /<request protocol="3\.0"/);
  assert.match(request, new RegExp(`appid="\\${COREOS_APP_ID.slice(0, -1)}\\}" version="1\\.0\\.0" track="${GROUP}"`));
  assert.match(request, new RegExp(`machineid="${await machineOf(w)}"`));
  assert.match(request, /alephversion="1\.0\.0"/, 'the first version seen is kept as the aleph version');
  assert.match(request, /oem="qemu" oemversion="0\.1"/, 'as update_engine reads /usr/share/oem/oem-release');
  assert.match(request, /<ping active="1"><\/ping>\s*<updatecheck><\/updatecheck>/);

  const group = omaha.groups.get(GROUP)!;
  group.package = await publishPayload(w, '2.0.0');
  group.policy.updatesEnabled = false;
  s = await service.check();
  assert.equal(s.state, 'IDLE');
  assert.equal(s.omaha?.status, 'error-updatesDisabled');
  assert.equal(s.lastError, undefined, 'a refusal is the server\'s answer, not a failure');
  assert.match(renderUpdateStatus(s, false), /Omaha answer: error-updatesDisabled \(the server refused the check\)/);
  assert.ok(log.some((l) => /Omaha server .*: error-updatesDisabled \(a refusal\)/.test(l)), log.join('\n'));
  assert.deepEqual(await cgptAttributes(w.disk.path, 'B'), { priority: 0, tries: 0, successful: false });

  group.policy.updatesEnabled = true;
  group.pollIntervalSec = 3600;
  s = await service.check();
  assert.equal(s.state, 'UPDATE_AVAILABLE');
  assert.equal(s.newVersion, '2.0.0');
  assert.deepEqual({ status: s.omaha?.status, version: s.omaha?.version, poll: s.omaha?.pollIntervalSec }, { status: 'ok', version: '2.0.0', poll: 3600 });
  assert.match(renderUpdateStatus(s, false), /Omaha answer: ok, offers 2\.0\.0, next check in 3600 s at the earliest/);

  const malformed: Array<[string, string]> = [
    ['size 0', responseXml(COREOS_APP_ID, okUpdatecheck({ ...group.package, size: 0 }))],
    ['no sha256', responseXml(COREOS_APP_ID, okUpdatecheck({ ...group.package, sha256: '' }))],
    ['unknown status', responseXml(COREOS_APP_ID, '<updatecheck status="later"/>')],
    ['not XML', 'Service Unavailable'],
  ];
  for (const [what, body] of malformed) {
    omaha.override = () => body;
    await assert.rejects(service.check(), { code: 'update.omaha-bad-response' }, what);
    s = service.status();
    assert.equal(s.lastError?.code, 'update.omaha-bad-response', what);
    assert.equal(s.state, 'IDLE', what);
  }
  omaha.override = undefined;

  const other = await omahaHost(t, w, omaha, '1.0.0', { channel: { server: omaha.url, group: 'no-such-group' } });
  s = await other.service.check();
  assert.equal(s.omaha?.status, 'error-unknownApplicationOrGroup');
});

test('an Omaha hash is no signature: a payload without a valid .asc never becomes bootable', async (t) => {
  const omaha = await startOmahaServer(t, COREOS_APP_ID);
  const w = await makeWorld(t, fixtures.template, fixtures.keys);
  await trustReleaseKey(w);
  omaha.groups.set(GROUP, { policy: { ...OPEN }, package: await publishPayload(w, '2.0.0', 'none') });
  const { service } = await omahaHost(t, w, omaha, '1.0.0');

  await assert.rejects(service.apply(), (e: any) => {
    assert.equal(e.code, 'update.bad-signature');
    assert.match(e.message, /no valid signature by a key of the update keyring/);
    return true;
  });
  assert.deepEqual(await cgptAttributes(w.disk.path, 'B'), { priority: 0, tries: 0, successful: false });
  assert.equal(service.status().state, 'IDLE');

  // Signed by a key outside the update keyring: refused the same way.
  const stranger = await w.gpg.newKey('Stranger <stranger@example.com>');
  await w.gpg.sign(join(w.dir, 'channel', 'omaha', 'usr-2.0.0.img'), stranger);
  await assert.rejects(service.apply(), { code: 'update.bad-signature' });
  assert.deepEqual(await cgptAttributes(w.disk.path, 'B'), { priority: 0, tries: 0, successful: false });
  assert.deepEqual(await eventsOf(omaha, w), ['13/1', '14/1', '3/0 errorcode=12', '13/1', '14/1', '3/0 errorcode=12']);
});

test('a full cycle reports 13/1, 14/1, 3/1, then 3/2 previousversion; a fallback reports 3/0 errorcode 44', async (t) => {
  const omaha = await startOmahaServer(t, COREOS_APP_ID);
  const w = await makeWorld(t, fixtures.template, fixtures.keys);
  await trustReleaseKey(w);
  omaha.groups.set(GROUP, { policy: { ...OPEN }, package: await publishPayload(w, '2.0.0') });

  const first = await omahaHost(t, w, omaha, '1.0.0');
  const staged = await first.service.apply();
  assert.equal(staged.state, 'UPDATED_NEED_REBOOT');
  assert.deepEqual(await cgptAttributes(w.disk.path, 'B'), { priority: 2, tries: 1, successful: false });
  assert.equal(await versionIn(w, 'B'), '2.0.0');
  assert.deepEqual(await eventsOf(omaha, w), ['13/1', '14/1', '3/1']);
  await first.service.stop();

  await reboot(w);
  const second = await omahaHost(t, w, omaha, '2.0.0');
  second.service.start();
  await second.service.bootMarked;
  assert.equal(second.service.status().boot.status, 'marked-good');
  const after = await second.service.check();
  assert.equal(after.omaha?.status, 'noupdate');
  assert.deepEqual(await eventsOf(omaha, w), ['13/1', '14/1', '3/1', '3/2 previousversion=1.0.0']);
  assert.match(omaha.requests.at(-1)!.body, /alephversion="1\.0\.0"/, 'the aleph version stays the first one');
  assert.equal(omaha.instances.get(await machineOf(w))?.status, 'complete');
  await second.service.check();
  assert.equal((await eventsOf(omaha, w)).length, 4, '3/2 only with the first check after the reboot');

  // 3.0.0 fails its health check after its reboot; the bootloader falls back to 2.0.0.
  omaha.groups.get(GROUP)!.package = await publishPayload(w, '3.0.0');
  assert.equal((await second.service.apply()).state, 'UPDATED_NEED_REBOOT');
  await second.service.stop();
  await reboot(w);
  const broken = await omahaHost(t, w, omaha, '3.0.0');
  broken.units.set('web.service', 'failed');
  broken.service.start();
  await broken.service.bootMarked;
  assert.equal(broken.service.status().boot.status, 'health-failed');
  await broken.service.stop();
  await reboot(w);
  const back = await omahaHost(t, w, omaha, '2.0.0');
  back.service.start();
  await back.service.bootMarked;
  assert.equal(back.service.status().boot.status, 'already-good', 'USR-B, good before, runs again');
  const fell = await back.service.check();
  assert.deepEqual((await eventsOf(omaha, w)).slice(4), ['13/1', '14/1', '3/1', '3/0 errorcode=44']);
  assert.equal(fell.state, 'IDLE', 'the server offers 3.0.0 again, but it failed here: not taken');
  assert.equal(fell.omaha?.status, 'ok');
});

test('a five-host fleet follows the server\'s rollout (safe mode, per-period limit, office hours) and the etcd reboot lock', async (t) => {
  let clock = Date.now();
  let officeOpen = false;
  const omaha = await startOmahaServer(t, COREOS_APP_ID, () => clock);
  const etcd = await startEtcd(t);
  const lockGroup = 'omaha-fleet';
  const worlds = await Promise.all([0, 1, 2, 3, 4].map(() => makeWorld(t, fixtures.template, fixtures.keys)));
  await Promise.all(worlds.map((w) => trustReleaseKey(w)));
  const pkg = await publishPayload(worlds[0]!, '2.0.0');
  for (const w of worlds.slice(1)) w.images.set('2.0.0', worlds[0]!.images.get('2.0.0')!);
  omaha.groups.set(GROUP, {
    package: pkg,
    policy: { updatesEnabled: true, safeMode: true, maxUpdatesPerPeriod: 3, periodMs: 3600_000, officeHours: () => officeOpen },
  });
  const rigs = await Promise.all(worlds.map((w) => omahaHost(t, w, omaha, '1.0.0')));
  const ids = await Promise.all(worlds.map(machineOf));
  const violations: string[] = [];

  /** Every host applies at once; returns the indexes that staged. Hosts not granted must be untouched. */
  const applyAll = async (which: number[]): Promise<number[]> => {
    const results = await Promise.all(which.map((i) => rigs[i]!.service.apply()));
    const staged = which.filter((_, k) => results[k]!.state === 'UPDATED_NEED_REBOOT');
    for (const [k, i] of which.entries()) {
      const granted = omaha.grants.some((g) => g.machineId === ids[i]);
      if (results[k]!.state === 'UPDATED_NEED_REBOOT' && !granted) violations.push(`host ${i} staged without a grant`);
      if (!staged.includes(i)) assert.deepEqual(await cgptAttributes(worlds[i]!.disk.path, 'B'), { priority: 0, tries: 0, successful: false }, `host ${i} untouched`);
    }
    return staged;
  };

  /** Reboot host `i` while holding the etcd lock, mark it good, release, check again (3/2). */
  const rebootWithLock = async (i: number): Promise<void> => {
    const lock = openEtcdLock({ endpoint: etcd.endpoint, id: ids[i]!, group: lockGroup });
    for (let n = 0; !(await lock.acquire()).acquired; n++) {
      if (n > 400) throw new Error(`host ${i} never got the reboot lock`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const holders = (await lock.read()).semaphore.holders;
    if (holders.length !== 1 || holders[0] !== ids[i]) violations.push(`host ${i} rebooted while the holders were [${holders.join(', ')}]`);
    await rigs[i]!.service.stop();
    await reboot(worlds[i]!);
    rigs[i] = await omahaHost(t, worlds[i]!, omaha, '2.0.0');
    rigs[i]!.service.start();
    await rigs[i]!.service.bootMarked;
    assert.equal(rigs[i]!.service.status().boot.status, 'marked-good', `host ${i}`);
    await lock.release();
    await rigs[i]!.service.check();
  };

  // Outside office hours: nobody gets anything.
  assert.deepEqual(await applyAll([0, 1, 2, 3, 4]), []);
  assert.ok(rigs.every((r) => r.service.status().omaha?.status === 'noupdate'));
  assert.equal(omaha.grants.length, 0);

  // Safe mode: the first host of the new version goes alone.
  officeOpen = true;
  const firstWave = await applyAll([0, 1, 2, 3, 4]);
  assert.equal(firstWave.length, 1, `one host alone in safe mode: ${firstWave.join(', ')}`);
  const refused = [0, 1, 2, 3, 4].filter((i) => !firstWave.includes(i)).map((i) => rigs[i]!.service.status().omaha?.status);
  assert.deepEqual(new Set(refused), new Set(['error-maxConcurrentUpdatesLimitReached']));
  await rebootWithLock(firstWave[0]!);

  // Then at most 3 grants per period (the first one counts).
  const rest = [0, 1, 2, 3, 4].filter((i) => !firstWave.includes(i));
  const secondWave = await applyAll(rest);
  assert.equal(secondWave.length, 2, `two more in this period: ${secondWave.join(', ')}`);
  for (const i of rest.filter((i) => !secondWave.includes(i))) assert.equal(rigs[i]!.service.status().omaha?.status, 'error-maxUpdatesPerPeriodLimitReached');
  await Promise.all(secondWave.map(rebootWithLock));

  // The next period: the last two.
  clock += 3600_000;
  const last = rest.filter((i) => !secondWave.includes(i));
  assert.deepEqual((await applyAll(last)).sort(), last.sort());
  await Promise.all(last.map(rebootWithLock));

  assert.deepEqual(violations, []);
  assert.equal(omaha.grants.length, 5);
  for (const [i, w] of worlds.entries()) {
    assert.equal(await versionIn(w, 'B'), '2.0.0', `host ${i}`);
    assert.deepEqual(await cgptAttributes(w.disk.path, 'B'), { priority: 2, tries: 0, successful: true }, `host ${i}`);
    assert.deepEqual(await eventsOf(omaha, w), ['13/1', '14/1', '3/1', '3/2 previousversion=1.0.0'], `host ${i}`);
    assert.equal(omaha.instances.get(ids[i]!)?.status, 'complete');
  }
  const history = (await keyHistory(etcd.endpoint, semaphoreKey(lockGroup))).map((text) => {
    const parsed = parseSemaphore(text);
    assert.ok(typeof parsed !== 'string', `${text}: ${parsed}`);
    return parsed;
  });
  for (const v of history) assert.ok(v.holders.length <= 1, `two holders at once: ${v.holders.join(', ')}`);
  assert.equal(history.filter((v) => v.holders.length === 1).length, 5, 'each host held the lock once');
  assert.deepEqual(history.at(-1)?.holders, []);
});

test('periodic checks honour the server\'s PollInterval: no periodic request before it has passed', async (t) => {
  const omaha = await startOmahaServer(t, COREOS_APP_ID);
  const w = await makeWorld(t, fixtures.template, fixtures.keys);
  omaha.groups.set(GROUP, { policy: { ...OPEN } });
  const count = (): number => omaha.requests.filter((r) => r.answer !== undefined).length;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  const free = await omahaHost(t, w, omaha, '1.0.0', { checkSchedule: '* * * * * *', jitterMs: 1, random: () => 0 });
  free.service.start();
  await sleep(3500);
  await free.service.stop();
  const without = count();
  assert.ok(without >= 2, `a check every second without a PollInterval (${without})`);

  omaha.groups.get(GROUP)!.pollIntervalSec = 3600;
  const polite = await omahaHost(t, w, omaha, '1.0.0', { checkSchedule: '* * * * * *', jitterMs: 1, random: () => 0 });
  polite.service.start();
  await sleep(3500);
  assert.equal(count() - without, 1, 'one periodic check, then none before the hour the server asked for');
  assert.equal(polite.service.status().omaha?.pollIntervalSec, 3600);
  assert.ok(polite.log.some((l) => /skipped: the Omaha server asked for 3600 s between checks/.test(l)), polite.log.join('\n'));
  await polite.service.check();
  assert.equal(count() - without, 2, 'a check asked for goes at once');
});
