import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cgptAttributes, gptProblems } from '../../lib/disk.js';
import type { UpdateState } from '../../../agent/core/update/machine.js';
import { GROUP, makeWorld, suiteFixtures, versionIn, type World } from './helpers/world.js';
import { sha512 } from './helpers/release.js';


const fixtures = suiteFixtures();


/** The host is as before: A booted, good and holding 1.0.0; B not bootable; tables valid. */
async function assertUntouched(w: World): Promise<void> {
  assert.deepEqual(await cgptAttributes(w.disk.path, 'A'), { priority: 1, tries: 0, successful: true });
  assert.equal((await cgptAttributes(w.disk.path, 'B')).priority, 0);
  assert.equal(await versionIn(w, 'A'), '1.0.0');
  assert.equal(await gptProblems(w.disk.path), '');
  assert.equal((await w.boot()).slot, 'A');
}

async function rejected(w: World, code: string, engineOptions = {}): Promise<UpdateState[]> {
  const states: UpdateState[] = [];
  const engine = w.engine({ ...engineOptions, onChange: (s) => states.push(s) });
  await assert.rejects(engine.update(), { code });
  assert.equal(engine.state.kind, 'IDLE');
  assert.equal(engine.state.failures, 1);
  const reported = states.find((s) => s.kind === 'REPORTING_ERROR_EVENT');
  assert.equal((reported as { error: { code: string } } | undefined)?.error.code, code);
  await assertUntouched(w);
  return states;
}

test('a tampered payload byte is rejected after the download; B stays unbootable', async (t) => {
  // The byte flipped, and the error expected: the raw image fails our sha512; gzip and xz
  // notice first through their own checks (gzip's CRC trailer, xz's block check).
  const cases = [
    { compression: 'none', at: (n: number) => 1_000_000 % n, code: 'update.hash-mismatch' },
    { compression: 'gzip', at: (n: number) => n - 5, code: 'update.bad-payload' },
    { compression: 'xz', at: (n: number) => Math.floor(n / 2), code: 'update.bad-payload' },
  ] as const;
  for (const { compression, at, code } of cases) {
    const w = await makeWorld(t, fixtures.template, fixtures.keys);
    const { payloadPath } = await w.publish('2.0.0', { compression });
    const bytes = await readFile(payloadPath);
    bytes[at(bytes.length)]! ^= 0x01;
    await writeFile(payloadPath, bytes);
    await rejected(w, code);
  }
});

test('a payload of the wrong size is rejected (longer, shorter, larger than the slot)', async (t) => {
  const w1 = await makeWorld(t, fixtures.template, fixtures.keys);
  await w1.publish('2.0.0', { compression: 'none', size: 3 * 1024 * 1024 });
  await rejected(w1, 'update.size-mismatch');

  const w2 = await makeWorld(t, fixtures.template, fixtures.keys);
  await w2.publish('2.0.0', { size: 3 * 1024 * 1024 + 20000 });
  await rejected(w2, 'update.size-mismatch');

  const w3 = await makeWorld(t, fixtures.template, fixtures.keys);
  await w3.publish('2.0.0', { size: 9 * 1024 * 1024 });
  const states = await rejected(w3, 'update.too-large');
  assert.equal(states.some((s) => s.kind === 'DOWNLOADING'), false, 'nothing was written');
});

test('a manifest changed after signing is rejected before any write', async (t) => {
  const w = await makeWorld(t, fixtures.template, fixtures.keys);
  const { release } = await w.publish('2.0.0');
  const manifest = join(w.dir, 'channel', GROUP, 'release.json');
  const evil = Buffer.alloc(release.payload.size, 0x66);
  await writeFile(manifest, JSON.stringify({ ...release, payload: { ...release.payload, sha512: sha512(evil) } }));
  const states = await rejected(w, 'update.bad-signature');
  assert.deepEqual([...new Set(states.map((s) => s.kind))], ['CHECKING_FOR_UPDATE', 'REPORTING_ERROR_EVENT', 'IDLE']);
});

test('a manifest signed by a key outside the update keyring is rejected', async (t) => {
  const w = await makeWorld(t, fixtures.template, fixtures.keys);
  const stranger = await fixtures.keys.gpg.newKey('Mallory <mallory@example.com>');
  await w.publish('2.0.0', { key: stranger });
  await rejected(w, 'update.bad-signature');
});

test('an older version is not installed unless downgrades are allowed', async (t) => {
  const w = await makeWorld(t, fixtures.template, fixtures.keys);
  await w.publish('0.9.0');
  const engine = w.engine();
  assert.equal(await engine.update(), undefined);
  assert.equal(engine.state.kind, 'IDLE');
  assert.ok(engine.state.lastChecked > 0);
  await assertUntouched(w);

  const result = await w.engine().update({ allowDowngrade: true });
  assert.equal(result?.target, 'B');
  assert.equal(await versionIn(w, 'B'), '0.9.0');
});

test('a missing channel reports an HTTP error and leaves the host alone', async (t) => {
  const w = await makeWorld(t, fixtures.template, fixtures.keys);
  await rejected(w, 'update.http-status');
});

test('a release that expires between the check and the install is refused before any write', async (t) => {
  const w = await makeWorld(t, fixtures.template, fixtures.keys);
  let clock = Date.now();
  await w.publish('2.0.0', { expires: new Date(clock + 60_000).toISOString() });
  const engine = w.engine({ now: () => clock });
  assert.equal((await engine.check())?.release.version, '2.0.0');
  clock += 120_000;
  await assert.rejects(engine.apply(), { code: 'update.expired' });
  assert.equal(engine.state.kind, 'IDLE');
  await assert.rejects(engine.apply(), { code: 'update.nothing-to-apply' }, 'the expired release is forgotten');
  await assertUntouched(w);
});
