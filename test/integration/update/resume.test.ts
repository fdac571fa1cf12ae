import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { StateOf, UpdateState } from '../../../agent/core/update/machine.js';
import { makeWorld, suiteFixtures, versionIn } from './helpers/world.js';


const fixtures = suiteFixtures();


const CUT = 1_300_000;
const downloads = (states: UpdateState[]): Array<StateOf<'DOWNLOADING'>> => states.filter((s): s is StateOf<'DOWNLOADING'> => s.kind === 'DOWNLOADING');

test('a broken-off uncompressed download resumes by range from the last checkpoint', async (t) => {
  const w = await makeWorld(t, fixtures.template, fixtures.keys, { cutOnceAfter: CUT });
  await w.publish('2.0.0', { compression: 'none' });
  const states: UpdateState[] = [];
  const result = await w.engine({ onChange: (s) => states.push(s) }).update();
  assert.equal(result?.target, 'B');
  const ranges = w.server.requests.filter((r) => r.path.endsWith('.img')).map((r) => r.range);
  assert.equal(ranges.length, 2);
  assert.equal(ranges[0], undefined);
  const from = Number(/^bytes=(\d+)-$/.exec(ranges[1] ?? '')?.[1]);
  assert.ok(from > 0 && from <= CUT && from % (256 * 1024) === 0, `resumed at a checkpoint (${ranges[1]})`);
  const retry = downloads(states).find((s) => s.attempt === 2);
  assert.equal(retry?.resumedFrom, from);
  assert.equal(await versionIn(w, 'B'), '2.0.0');
  assert.equal((await w.boot()).slot, 'B');
});

test('a server that ignores ranges makes the download restart cleanly', async (t) => {
  const w = await makeWorld(t, fixtures.template, fixtures.keys, { cutOnceAfter: CUT, ignoreRange: true });
  await w.publish('2.0.0', { compression: 'none' });
  const states: UpdateState[] = [];
  await w.engine({ onChange: (s) => states.push(s) }).update();
  const second = downloads(states).filter((s) => s.attempt === 2);
  assert.equal(second.at(-1)?.bytesDone, w.images.get('2.0.0')!.length);
  assert.ok(second.some((s) => s.bytesDone === 0), 'progress went back to 0');
  assert.equal(await versionIn(w, 'B'), '2.0.0');
});

test('a broken-off compressed download restarts from the beginning', async (t) => {
  const w = await makeWorld(t, fixtures.template, fixtures.keys, { cutOnceAfter: 20_000 });
  await w.publish('2.0.0', { compression: 'gzip' });
  await w.engine().update();
  const ranges = w.server.requests.filter((r) => r.path.endsWith('.gz')).map((r) => r.range);
  assert.deepEqual(ranges, [undefined, undefined]);
  assert.equal(await versionIn(w, 'B'), '2.0.0');
});

test('download attempts are limited, then the failure is reported', async (t) => {
  const w = await makeWorld(t, fixtures.template, fixtures.keys);
  await w.publish('2.0.0', { compression: 'none' });
  let cuts = 0;
  const behaviour = w.server.behaviour;
  const engine = w.engine({
    onChange: (s) => {
      if (s.kind === 'DOWNLOADING' && behaviour.cutOnceAfter === undefined && cuts < 3) {
        behaviour.cutOnceAfter = 300_000;
        cuts++;
      }
    },
  });
  await assert.rejects(engine.update(), { code: 'update.fetch-failed' });
  assert.equal(engine.state.kind, 'IDLE');
  assert.equal(engine.state.failures, 1);
});
