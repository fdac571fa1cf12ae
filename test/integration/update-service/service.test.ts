/**
 * The update service on real GPT disk images (checked with cgpt) and a loopback channel:
 * the update keyring, the after-boot health marking, rollback, reset, periodic updates,
 * and a host without an A/B disk.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { access, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { UpdateStatusDocument } from '../../../agent/api/agent1.js';
import { UpdateService } from '../../../agent/daemon/update-service.js';
import { createLogger } from '../../../agent/host/log/logger.js';
import { cgptAttributes } from '../../lib/disk.js';
import { GROUP, makeWorld, suiteFixtures, versionIn, type World } from '../update/helpers/world.js';
import { keyringOf, makeService, trustReleaseKey } from './helpers.js';

const fixtures = suiteFixtures();

const exists = (path: string): Promise<boolean> => access(path).then(() => true, () => false);

test('the manifest must be signed by a key of the update keyring; an admin file masks a system key', async (t) => {
  const w = await makeWorld(t, fixtures.template, fixtures.keys);
  await w.publish('2.0.0');
  const { service, log } = makeService(t, w, '1.0.0');

  await assert.rejects(service.check(), (e: any) => {
    assert.equal(e.code, 'update.bad-signature');
    assert.match(e.message, /update keyring has no key/);
    return true;
  });
  const failed = service.status();
  assert.equal(failed.state, 'IDLE');
  assert.equal(failed.lastError?.code, 'update.bad-signature');

  await trustReleaseKey(w);
  const found = await service.check();
  assert.equal(found.state, 'UPDATE_AVAILABLE');
  assert.equal(found.newVersion, '2.0.0');
  assert.equal(found.newSize, w.imageSize);
  assert.ok(found.lastCheckedTime > 0);
  assert.equal(found.lastError, undefined, 'a success clears the last error');
  // Every attempt and its result are in agentd's log.
  const checks = log.filter((l) => l.includes('OS update check'));
  assert.equal(checks.filter((l) => /OS update check: asking .* \(group \S+, running 1\.0\.0\)/.test(l)).length, 2, checks.join('\n'));
  assert.ok(checks.some((l) => /OS update check failed: .*update keyring has no key/.test(l)), checks.join('\n'));
  assert.ok(checks.some((l) => /OS update check: 2\.0\.0 is available/.test(l)), checks.join('\n'));

  const masked = join(keyringOf(w).adminDir, 'update.d');
  await mkdir(masked, { recursive: true });
  await writeFile(join(masked, w.key.fingerprint), '');
  await assert.rejects(service.check(), { code: 'update.bad-signature' });
});

test('a full cycle: apply with progress, reboot, marked good after the units are active, then rollback', async (t) => {
  const w = await makeWorld(t, fixtures.template, fixtures.keys);
  await w.publish('2.0.0');
  await trustReleaseKey(w);
  const before = makeService(t, w, '1.0.0');
  const seen: UpdateStatusDocument[] = [];
  before.service.onChange((s) => seen.push(s));
  const [a, b] = await Promise.all([before.service.apply(), before.service.apply()]);
  assert.deepEqual(a, b, 'a second apply joins the first');
  assert.equal(a.state, 'UPDATED_NEED_REBOOT');
  assert.equal(a.currentOperation, 'UPDATE_STATUS_UPDATED_NEED_REBOOT');
  assert.equal(a.progress, 1);
  const states = [...new Set(seen.map((s) => s.state))];
  assert.deepEqual(states, ['CHECKING_FOR_UPDATE', 'UPDATE_AVAILABLE', 'DOWNLOADING', 'VERIFYING', 'FINALIZING', 'UPDATED_NEED_REBOOT']);
  assert.deepEqual(await cgptAttributes(w.disk.path, 'B'), { priority: 2, tries: 1, successful: false });
  assert.ok(await exists(w.paths.rebootRequiredPath));
  await before.service.stop();

  // An agent restarted before the reboot takes the staged release up again.
  const restarted = makeService(t, w, '1.0.0');
  await restarted.service.setChannel({ server: w.server.url, group: GROUP });
  assert.equal(restarted.service.status().state, 'UPDATED_NEED_REBOOT');
  assert.equal(restarted.service.status().newVersion, '2.0.0');
  await restarted.service.stop();

  // Reboot into B: the service of the new version waits for the units, then marks B good.
  assert.equal((await w.boot()).slot, 'B');
  const after = makeService(t, w, '2.0.0');
  after.units.set('web.service', 'activating');
  after.service.start();
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(after.service.status().boot.status, 'checking');
  after.units.set('web.service', 'active');
  await after.service.bootMarked;
  assert.equal(after.service.status().boot.status, 'marked-good');
  assert.equal(after.service.status().bootedSlot, 'B');
  assert.deepEqual(await cgptAttributes(w.disk.path, 'B'), { priority: 2, tries: 0, successful: true });
  await after.service.setChannel({ server: w.server.url, group: GROUP });
  assert.equal(after.service.status().state, 'IDLE', 'the booted release is no longer staged');

  // Rollback to A, which is successful: A boots next, B stays good.
  const rolled = await after.service.rollback();
  assert.deepEqual(rolled, { nextBoot: 'A', label: 'USR-A' });
  assert.deepEqual(await cgptAttributes(w.disk.path, 'A'), { priority: 3, tries: 0, successful: true });
  assert.equal((await w.boot()).slot, 'A');
  assert.equal(await versionIn(w, 'A'), '1.0.0');
});

/** A world whose host staged 2.0.0 running 1.0.0 and then booted it (USR-B, not marked yet). */
async function bootedIntoStagedRelease(t: Parameters<typeof makeWorld>[0]): Promise<World> {
  const w = await makeWorld(t, fixtures.template, fixtures.keys);
  await w.publish('2.0.0');
  await trustReleaseKey(w);
  const before = makeService(t, w, '1.0.0');
  await before.service.apply();
  await before.service.stop();
  assert.equal((await w.boot()).slot, 'B');
  return w;
}

test('a health failure after boot: not marked, the version is never taken again, the bootloader falls back', async (t) => {
  const w = await bootedIntoStagedRelease(t);

  const after = makeService(t, w, '2.0.0');
  after.units.set('web.service', 'failed');
  after.service.start();
  await after.service.bootMarked;
  const status = after.service.status();
  assert.equal(status.boot.status, 'health-failed');
  assert.match(status.boot.detail ?? '', /web\.service/);
  assert.deepEqual(await cgptAttributes(w.disk.path, 'B'), { priority: 2, tries: 0, successful: false });
  assert.ok(await exists(w.paths.rebootRequiredPath), 'a reboot is asked for');
  await after.service.stop();

  assert.equal((await w.boot()).slot, 'A', 'the bootloader falls back');
  const back = makeService(t, w, '1.0.0');
  back.service.start();
  await back.service.bootMarked;
  assert.equal(back.service.status().boot.status, 'already-good');
  const checked = await back.service.check();
  assert.equal(checked.state, 'IDLE', '2.0.0 failed here and is not offered again');
  assert.equal(checked.newVersion, '');
});

test('after boot: an inactive unit (a finished oneshot) does not hold the marking back; one still restarting at the deadline fails it', async (t) => {
  const w = await bootedIntoStagedRelease(t);

  const restarting = makeService(t, w, '2.0.0');
  restarting.units.set('web.service', 'activating');
  restarting.units.set('once.service', 'inactive');
  restarting.service.start();
  await restarting.service.bootMarked;
  assert.equal(restarting.service.status().boot.status, 'health-failed');
  assert.match(restarting.service.status().boot.detail ?? '', /did not settle in time: web\.service \(activating\)$/);
  await restarting.service.stop();
});

test('rollback is refused unless the other slot booted successfully; reset drops a staged update (also after an agent restart)', async (t) => {
  const w = await makeWorld(t, fixtures.template, fixtures.keys);
  await w.publish('2.0.0');
  await trustReleaseKey(w);
  const { service } = makeService(t, w, '1.0.0');
  await assert.rejects(service.rollback(), (e: any) => {
    assert.equal(e.code, 'update.rollback-refused');
    assert.match(e.message, /USR-B has not booted successfully \(priority 0, tries 0, successful 0\)/);
    return true;
  });
  await assert.rejects(service.reset(), { code: 'update.nothing-staged' });

  await service.apply();
  await assert.rejects(service.rollback(), (e: any) => {
    assert.match(e.hint, /agentctl update reset/);
    return true;
  });
  const restarted = makeService(t, w, '1.0.0');
  await service.stop();
  const reset = await restarted.service.reset();
  assert.equal(reset.state, 'IDLE');
  assert.equal((await cgptAttributes(w.disk.path, 'B')).priority, 0);
  assert.equal(await exists(w.paths.rebootRequiredPath), false);
  assert.equal((await w.boot()).slot, 'A');
});

test('periodic updates run on the cron schedule after a random delay', async (t) => {
  const w = await makeWorld(t, fixtures.template, fixtures.keys);
  await w.publish('2.0.0');
  await trustReleaseKey(w);
  const { service } = makeService(t, w, '1.0.0', { checkSchedule: '* * * * * *', jitterMs: 400, random: () => 0.5 });
  service.start();
  assert.ok(service.status().nextCheckAt, 'the next run is shown');
  const staged = new Promise<void>((resolve) => service.onChange((s) => {
    if (s.state === 'UPDATED_NEED_REBOOT') resolve();
  }));
  await staged;
  assert.equal(await versionIn(w, 'B'), '2.0.0');
  assert.equal((await w.boot()).slot, 'B');
});

test('without an A/B disk the service is disabled and says why', async (t) => {
  const service = new UpdateService({
    paths: {},
    keyring: { adminDir: '/nonexistent', systemDir: '/nonexistent' },
    channel: { server: 'http://127.0.0.1:9' },
    currentVersion: '1.0.0',
    log: createLogger('json', 'error'),
    requiredUnits: async () => [],
    unitActiveState: async () => 'active',
  });
  service.start();
  t.after(() => service.stop());
  const s = service.status();
  assert.equal(s.enabled, false);
  assert.match(s.disabledReason ?? '', /no A\/B disk/);
  assert.equal(s.boot.status, 'disabled');
  await assert.rejects(service.apply(), { code: 'update.disabled' });
  await assert.rejects(service.rollback(), { code: 'update.disabled' });
});

test('without a server updates wait for one; a new channel takes effect with the next operation', async (t) => {
  const w = await makeWorld(t, fixtures.template, fixtures.keys);
  await w.publish('2.0.0');
  await trustReleaseKey(w);
  const { service } = makeService(t, w, '1.0.0', { channel: {} });
  assert.match(service.status().disabledReason ?? '', /coreos\.update\.server/);
  await assert.rejects(service.check(), { code: 'update.disabled' });
  service.start();
  await service.bootMarked;
  assert.equal(service.status().boot.status, 'already-good', 'the boot is checked without a server');

  await service.setChannel({ server: w.server.url, group: 'beta' });
  await assert.rejects(service.check(), { code: 'update.http-status' }, 'no release in group beta');
  await service.setChannel({ server: w.server.url });
  assert.equal((await service.check()).newVersion, '2.0.0', 'the default group is stable');
  assert.equal(service.status().enabled, true);
});
