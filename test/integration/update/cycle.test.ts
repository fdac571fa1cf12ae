import { test } from 'node:test';
import assert from 'node:assert/strict';
import { access, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { cgptAttributes, expectedBits, gptProblems, sgdiskBits } from '../../lib/disk.js';
import { markBootedGood } from '../../../agent/host/update/mark.js';
import type { UpdateState } from '../../../agent/core/update/machine.js';
import { makeWorld, suiteFixtures, versionIn } from './helpers/world.js';


const fixtures = suiteFixtures();


const GOOD_A = { priority: 1, tries: 0, successful: true };
const exists = (p: string): Promise<boolean> => access(p).then(() => true, () => false);

test('full cycle A → B → good (xz payload), read back by cgpt and sgdisk', async (t) => {
  const w = await makeWorld(t, fixtures.template, fixtures.keys);
  await w.publish('2.0.0');
  const states: UpdateState[] = [];
  const engine = w.engine({ onChange: (s) => states.push(s) });
  const result = await engine.update();
  assert.deepEqual(result, { target: 'B', resumedFrom: 0, alreadyStaged: false });
  assert.equal(engine.state.kind, 'UPDATED_NEED_REBOOT');
  assert.deepEqual(engine.status, { lastCheckedTime: Math.floor(engine.state.lastChecked / 1000), progress: 1, currentOperation: 'UPDATE_STATUS_UPDATED_NEED_REBOOT', newVersion: '2.0.0', newSize: w.images.get('2.0.0')!.length });
  const kinds = [...new Set(states.map((s) => s.kind))];
  assert.deepEqual(kinds, ['CHECKING_FOR_UPDATE', 'UPDATE_AVAILABLE', 'DOWNLOADING', 'VERIFYING', 'FINALIZING', 'UPDATED_NEED_REBOOT']);
  const progress = states.filter((s) => s.kind === 'DOWNLOADING').map((s) => (s as { bytesDone: number }).bytesDone);
  assert.ok(progress.length > 3 && progress.every((b, i) => i === 0 || b >= progress[i - 1]!), 'progress grows');

  assert.deepEqual(await cgptAttributes(w.disk.path, 'B'), { priority: 2, tries: 1, successful: false });
  assert.deepEqual(await cgptAttributes(w.disk.path, 'A'), GOOD_A);
  assert.deepEqual(await sgdiskBits(w.disk.path, 'B'), expectedBits({ priority: 2, tries: 1, successful: false }));
  assert.equal(await gptProblems(w.disk.path), '');
  assert.equal(await versionIn(w, 'B'), '2.0.0');
  assert.ok(await exists(w.paths.rebootRequiredPath));

  // A second check while the update waits for the reboot does nothing.
  assert.equal(await engine.check(), undefined);

  const boot = await w.boot();
  assert.equal(boot.slot, 'B');
  assert.deepEqual(await cgptAttributes(w.disk.path, 'B'), { priority: 2, tries: 0, successful: false });
  const mark = await markBootedGood({ ...w.paths, bootedVersion: '2.0.0', healthCheck: async () => true });
  assert.deepEqual(mark, { slot: 'B', status: 'marked-good' });
  assert.deepEqual(await cgptAttributes(w.disk.path, 'B'), { priority: 2, tries: 0, successful: true });
  assert.deepEqual(await sgdiskBits(w.disk.path, 'B'), expectedBits({ priority: 2, tries: 0, successful: true }));
  assert.equal(await gptProblems(w.disk.path), '');
  assert.equal((await w.boot()).slot, 'B');
  assert.equal((await w.boot()).slot, 'B', 'a good slot needs no tries');
  assert.equal(await exists(join(w.paths.stateDir, 'staging.json')), false);
});

test('gzip and uncompressed payloads stage the same way', async (t) => {
  for (const compression of ['gzip', 'none'] as const) {
    const w = await makeWorld(t, fixtures.template, fixtures.keys);
    await w.publish('1.1.0', { compression });
    await w.engine().update();
    assert.equal(await versionIn(w, 'B'), '1.1.0', compression);
    assert.equal((await w.boot()).slot, 'B');
  }
});

test('a boot that never gets marked falls back to A; the version is not taken again', async (t) => {
  const w = await makeWorld(t, fixtures.template, fixtures.keys);
  await w.publish('2.0.0');
  await w.engine().update();
  assert.equal((await w.boot()).slot, 'B');
  // B crashes before the agent marks it: the next boot falls back.
  assert.equal((await w.boot()).slot, 'A');
  assert.deepEqual(await cgptAttributes(w.disk.path, 'A'), GOOD_A);
  assert.deepEqual(await cgptAttributes(w.disk.path, 'B'), { priority: 2, tries: 0, successful: false });
  const mark = await markBootedGood({ ...w.paths, bootedVersion: '1.0.0', healthCheck: async () => true });
  assert.deepEqual(mark, { slot: 'A', status: 'already-good', fellBackFrom: '2.0.0' });
  assert.deepEqual(JSON.parse(await readFile(join(w.paths.stateDir, 'failed-versions.json'), 'utf8')), { versions: ['2.0.0'] });
  const engine = w.engine();
  assert.equal(await engine.check(), undefined);
  assert.equal(engine.state.kind, 'IDLE');
  assert.equal((await w.boot()).slot, 'A');
});

test('a health failure after boot leaves B unmarked, asks for a reboot and falls back', async (t) => {
  const w = await makeWorld(t, fixtures.template, fixtures.keys);
  await w.publish('2.0.0');
  await w.engine().update();
  assert.equal((await w.boot()).slot, 'B');
  await rm(w.paths.rebootRequiredPath);
  const mark = await markBootedGood({ ...w.paths, bootedVersion: '2.0.0', healthCheck: async () => { throw new Error('unit web.service is failed'); } });
  assert.deepEqual(mark, { slot: 'B', status: 'health-failed', failedVersion: '2.0.0', reason: 'unit web.service is failed', rebootRequired: true });
  assert.ok(await exists(w.paths.rebootRequiredPath));
  assert.deepEqual(await cgptAttributes(w.disk.path, 'B'), { priority: 2, tries: 0, successful: false });
  assert.equal((await w.boot()).slot, 'A');
  assert.equal(await versionIn(w, 'A'), '1.0.0');
  assert.equal(await w.engine().check(), undefined, 'a failed version is not offered again');
});

test('reset forgets a staged update: B unbootable again, no reboot needed', async (t) => {
  const w = await makeWorld(t, fixtures.template, fixtures.keys);
  await w.publish('2.0.0');
  const engine = w.engine();
  await engine.update();
  await engine.reset();
  assert.equal(engine.state.kind, 'IDLE');
  assert.deepEqual(await cgptAttributes(w.disk.path, 'B'), { priority: 0, tries: 0, successful: false });
  assert.deepEqual(await cgptAttributes(w.disk.path, 'A'), GOOD_A);
  assert.equal(await exists(w.paths.rebootRequiredPath), false);
  assert.equal((await w.boot()).slot, 'A');
  await assert.rejects(engine.reset(), { code: 'update.bad-transition' });
  // The next update writes it again from the start.
  assert.deepEqual(await engine.update(), { target: 'B', resumedFrom: 0, alreadyStaged: false });
});

test('an engine restarted after staging finds the update staged and writes nothing', async (t) => {
  const w = await makeWorld(t, fixtures.template, fixtures.keys);
  await w.publish('2.0.0');
  await w.engine().update();
  const requests = w.server.requests.length;
  const again = w.engine();
  assert.deepEqual(await again.update(), { target: 'B', resumedFrom: w.imageSize, alreadyStaged: true });
  assert.equal(again.state.kind, 'UPDATED_NEED_REBOOT');
  assert.equal(w.server.requests.filter((r) => r.path.endsWith('.xz')).length, 1, 'the payload was fetched once');
  assert.ok(w.server.requests.length > requests, 'the manifest was checked again');
  assert.deepEqual(await cgptAttributes(w.disk.path, 'B'), { priority: 2, tries: 1, successful: false });
});
