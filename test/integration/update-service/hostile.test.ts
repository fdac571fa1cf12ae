/**
 * Hostile update channels against the update service on sgdisk-made GPT images: signed
 * but replayed older releases (numeric and dotted VERSION_IDs), an expired release, a
 * payload dripped 1 KiB every 0.5 s, a server that never answers. Nothing may be written
 * (the whole disk image hashes the same, cgpt shows USR-B unbootable), status and reset
 * answer at once while a download runs, and reset cancels it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { cgptAttributes, gptProblems } from '../../lib/disk.js';
import { eventually } from '../../lib/eventually.js';
import { silentServer } from '../../lib/hostile-http.js';
import { makeWorld, suiteFixtures, type World } from '../update/helpers/world.js';
import { makeService, trustReleaseKey } from './helpers.js';

const fixtures = suiteFixtures();

const diskHash = async (w: World): Promise<string> => createHash('sha256').update(await readFile(w.disk.path)).digest('hex');

/** USR-A booted and good, USR-B never bootable, the tables valid, per cgpt and sgdisk. */
async function assertBUnbootable(w: World): Promise<void> {
  assert.deepEqual(await cgptAttributes(w.disk.path, 'A'), { priority: 1, tries: 0, successful: true });
  assert.deepEqual(await cgptAttributes(w.disk.path, 'B'), { priority: 0, tries: 0, successful: false });
  assert.equal(await gptProblems(w.disk.path), '');
}

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const start = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - start };
}

test('a signed but older release is refused on every version scheme and nothing is written; --update-allow-downgrade takes it', async (t) => {
  for (const [running, replayed] of [['12', '11'], ['2.0', '1.9'], ['2.0.0', '1.9.9'], ['12', '12']] as const) {
    const w = await makeWorld(t, fixtures.template, fixtures.keys);
    await w.publish(replayed);
    await trustReleaseKey(w);
    const before = await diskHash(w);
    const { service, log } = makeService(t, w, running);
    const s = await service.apply();
    assert.equal(s.state, 'IDLE', `${replayed} on ${running}`);
    assert.equal(s.newVersion, '');
    assert.ok(s.lastCheckedTime > 0);
    assert.equal(await diskHash(w), before, 'not one byte of the disk changed');
    await assertBUnbootable(w);
    assert.ok(w.server.requests.every((r) => !r.path.endsWith('.xz')), 'the payload was not even fetched');
    assert.ok(log.some((l) => l.includes(`the channel offers ${replayed}`) && l.includes(`running ${running}`)), log.join('\n'));
  }
  const w = await makeWorld(t, fixtures.template, fixtures.keys);
  await w.publish('11');
  await trustReleaseKey(w);
  const { service } = makeService(t, w, '12', { allowDowngrade: true });
  assert.equal((await service.apply()).state, 'UPDATED_NEED_REBOOT');
  assert.equal((await cgptAttributes(w.disk.path, 'B')).tries, 1);
});

test('an expired release is refused before anything is written', async (t) => {
  const w = await makeWorld(t, fixtures.template, fixtures.keys);
  await w.publish('2.0.0', { expires: new Date(Date.now() - 1000).toISOString() });
  await trustReleaseKey(w);
  const before = await diskHash(w);
  const { service } = makeService(t, w, '1.0.0');
  await assert.rejects(service.apply(), (e: any) => {
    assert.equal(e.code, 'update.expired');
    assert.match(e.message, /^the release 2\.0\.0 expired at \S+ \(now \S+\); an expired release may be a replayed old one$/);
    return true;
  });
  assert.equal(service.status().lastError?.code, 'update.expired');
  assert.equal(await diskHash(w), before);
  await assertBUnbootable(w);
});

test('a payload dripped 1 KiB every 0.5 s fails within the rate window; status and check answer at once meanwhile', async (t) => {
  const w = await makeWorld(t, fixtures.template, fixtures.keys, { drip: { bytes: 1024, everyMs: 500 } });
  await w.publish('2.0.0', { compression: 'none' });
  await trustReleaseKey(w);
  const { service } = makeService(t, w, '1.0.0', { http: { rateWindowMs: 2000 } });
  const start = performance.now();
  const applying = service.apply();
  applying.catch(() => undefined);
  await eventually(async () => service.status().state, (s) => s === 'DOWNLOADING', 'the download to start', 5000);
  const status = await timed(async () => service.handlers().GetUpdateStatus());
  assert.ok(status.ms < 1000, `status took ${status.ms} ms`);
  const check = await timed(() => service.check());
  assert.equal(check.value.state, 'DOWNLOADING');
  assert.ok(check.ms < 1000, `check took ${check.ms} ms`);
  await assert.rejects(applying, (e: any) => {
    assert.equal(e.code, 'update.download-too-slow');
    assert.match(e.message, /sent \d+ bytes in the last 2 s \(\d+ B\/s, below the minimum of 4096 B\/s\)/);
    assert.match(e.subject, /usr-2\.0\.0\.img$/);
    return true;
  });
  const seconds = (performance.now() - start) / 1000;
  assert.ok(seconds < 4, `gave up after ${seconds} s`);
  t.diagnostic(`status ${status.ms.toFixed(1)} ms, check ${check.ms.toFixed(1)} ms during the download; gave up ${seconds.toFixed(2)} s after the apply started (2 s window)`);
  assert.equal(service.status().state, 'IDLE');
  assert.equal(service.status().lastError?.code, 'update.download-too-slow');
  const b = await cgptAttributes(w.disk.path, 'B');
  assert.equal(b.priority, 0, 'the half-written slot stays unbootable');
});

test('reset cancels a running download at once (default rate window); the slot stays unbootable', async (t) => {
  const w = await makeWorld(t, fixtures.template, fixtures.keys, { drip: { bytes: 1024, everyMs: 500 } });
  await w.publish('2.0.0', { compression: 'none' });
  await trustReleaseKey(w);
  const { service, log } = makeService(t, w, '1.0.0');
  const applying = service.apply();
  applying.catch(() => undefined);
  await eventually(async () => service.status().state, (s) => s === 'DOWNLOADING', 'the download to start', 5000);
  const reset = await timed(() => service.reset());
  assert.ok(reset.ms < 1000, `reset took ${reset.ms} ms`);
  t.diagnostic(`reset cancelled the download in ${reset.ms.toFixed(1)} ms`);
  assert.equal(reset.value.state, 'IDLE');
  assert.equal(reset.value.lastError, undefined, 'a cancel asked for is no error');
  await assert.rejects(applying, { code: 'update.cancelled' });
  assert.ok(log.some((l) => l.includes('cancelling the OS update under way')));
  await assertBUnbootable(w);
  // Nothing left running: a new apply on a good server stages.
  delete w.server.behaviour.drip;
  assert.equal((await service.apply()).state, 'UPDATED_NEED_REBOOT');
});

test('a channel that accepts the connection but never answers fails after the response timeout (each retry)', async (t) => {
  const w = await makeWorld(t, fixtures.template, fixtures.keys);
  await trustReleaseKey(w);
  const silent = await silentServer(t);
  const before = await diskHash(w);
  const { service } = makeService(t, w, '1.0.0', { channel: { server: silent.url }, http: { responseTimeoutMs: 300 } });
  const { ms } = await timed(() => assert.rejects(service.apply(), (e: any) => {
    assert.equal(e.code, 'update.fetch-failed');
    assert.match(e.message, /accepted the connection but sent no response within 0\.3 s/);
    return true;
  }));
  assert.ok(ms < 2500, `${ms} ms for 3 attempts`);
  t.diagnostic(`3 attempts of 0.3 s each failed in ${ms.toFixed(0)} ms`);
  assert.equal(await diskHash(w), before);
});

test('the command line names USR-B but only USR-A ever booted: nothing is written, the error says why', async (t) => {
  const w = await makeWorld(t, fixtures.template, fixtures.keys);
  await w.publish('2.0.0');
  await trustReleaseKey(w);
  await writeFile(w.paths.cmdlinePath, `BOOT_IMAGE=/vmlinuz mount.usr=PARTUUID=${w.disk.partUuid.B} ro\n`);
  const before = await diskHash(w);
  const { service } = makeService(t, w, '1.0.0');
  service.start(); // the after-boot marking reads the booted slot too
  await service.bootMarked;
  const boot = service.status().boot;
  assert.equal(boot.status, 'error');
  assert.match(boot.detail ?? '', /names USR-B .* but the GPT .* disagrees: USR-B has priority 0, which the bootloader never boots; USR-A is the slot that booted successfully/);
  for (const op of [() => service.apply(), () => service.rollback()]) {
    await assert.rejects(op(), (e: any) => {
      assert.equal(e.code, 'slots.booted-disagrees');
      assert.equal(e.subject, w.paths.cmdlinePath);
      assert.match(e.message, /Nothing is written to either slot/);
      assert.match(e.hint, /mount\.usr=PARTUUID=/);
      return true;
    });
  }
  assert.equal(await diskHash(w), before, 'not one byte of the disk changed');
  await assertBUnbootable(w);
});
