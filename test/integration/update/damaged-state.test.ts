/**
 * The OS updater's state files damaged (garbage, `null`, wrong types) on a real GPT disk
 * image with a real signed channel: a damaged failed-versions.json is moved aside with a
 * warning naming it and checks go on (bad entries dropped, the rest kept); a damaged
 * staging journal is moved aside and the install starts over; marking a boot records a
 * failed version over a damaged list.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { markBootedGood } from '../../../agent/host/update/mark.js';
import { makeWorld, suiteFixtures, versionIn } from './helpers/world.js';

const fixtures = suiteFixtures();

async function damage(stateDir: string, name: string, text: string): Promise<string> {
  await mkdir(stateDir, { recursive: true });
  await writeFile(join(stateDir, name), text);
  return join(stateDir, name);
}

async function asides(stateDir: string, name: string): Promise<string[]> {
  return (await readdir(stateDir)).filter((n) => n.startsWith(`${name}.corrupt-`));
}

for (const text of ['garbage{', 'null', '{"versions":"2.0.0"}', '[]']) {
  test(`failed-versions.json holding ${text}: moved aside, the check finds the update`, async (t) => {
    const w = await makeWorld(t, fixtures.template, fixtures.keys);
    await w.publish('2.0.0');
    const path = await damage(w.paths.stateDir, 'failed-versions.json', text);
    const warnings: string[] = [];
    const found = await w.engine({ warn: (m) => warnings.push(m) }).check();
    assert.equal(found?.release.version, '2.0.0');
    assert.equal(warnings.length, 1);
    assert.ok(warnings[0]!.startsWith(`${path}: the list of OS versions that failed on this host is damaged`), warnings[0]);
    const [aside] = await asides(w.paths.stateDir, 'failed-versions.json');
    assert.equal(await readFile(join(w.paths.stateDir, aside!), 'utf8'), text);
  });
}

test('failed-versions.json with bad entries: they are dropped, the failed version is still never taken', async (t) => {
  const w = await makeWorld(t, fixtures.template, fixtures.keys);
  await w.publish('2.0.0');
  const path = await damage(w.paths.stateDir, 'failed-versions.json', '{"versions":[null,"2.0.0",7]}');
  const warnings: string[] = [];
  const engine = w.engine({ warn: (m) => warnings.push(m) });
  assert.equal(await engine.check(), undefined, '2.0.0 failed before');
  assert.match(warnings.join('\n'), /2 of 3 versions dropped/);
  assert.deepEqual(JSON.parse(await readFile(path, 'utf8')), { versions: ['2.0.0'] }, 'the rest written back');
  assert.equal((await asides(w.paths.stateDir, 'failed-versions.json')).length, 1);
  assert.equal(await engine.check(), undefined);
  assert.equal(warnings.length, 1, 'once repaired, no more warnings');
});

test('marking a fallen-back boot records the failed version over a damaged list', async (t) => {
  const w = await makeWorld(t, fixtures.template, fixtures.keys);
  await w.publish('2.0.0');
  await w.engine().update();
  assert.equal((await w.boot()).slot, 'B');
  assert.equal((await w.boot()).slot, 'A'); // B never marked: fallback
  const path = await damage(w.paths.stateDir, 'failed-versions.json', 'null');
  const mark = await markBootedGood({ ...w.paths, bootedVersion: '1.0.0', healthCheck: async () => true });
  assert.equal(mark.status, 'already-good');
  assert.deepEqual(JSON.parse(await readFile(path, 'utf8')), { versions: ['2.0.0'] });
});

for (const text of ['{"phase":"writing"', 'null', '{"phase":"staged","version":2}']) {
  test(`a staging journal holding ${text}: moved aside, the install starts over and stages`, async (t) => {
    const w = await makeWorld(t, fixtures.template, fixtures.keys);
    await w.publish('2.0.0');
    const path = await damage(w.paths.stateDir, 'staging.json', text);
    const warnings: string[] = [];
    const engine = w.engine({ warn: (m) => warnings.push(m) });
    await engine.restore();
    assert.equal(engine.state.kind, 'IDLE');
    assert.ok(warnings[0]?.startsWith(`${path}: the staging journal of the OS update is damaged`), warnings.join('\n'));
    assert.equal((await asides(w.paths.stateDir, 'staging.json')).length, 1);
    const result = await engine.update();
    assert.equal(result?.resumedFrom, 0);
    assert.equal(await versionIn(w, 'B'), '2.0.0');
  });
}
