import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp } from 'node:fs/promises';
import { join } from 'node:path';
import { makeTestCa, startHttpsServer } from '../../lib/https.js';
import { cgptAttributes } from '../../lib/disk.js';
import { GROUP, makeWorld, suiteFixtures, versionIn } from './helpers/world.js';

const fixtures = suiteFixtures();

test('the channel and the payload over HTTPS with a private CA; a stalled payload is given up', async (t) => {
  const ca = await makeTestCa(t);
  const w = await makeWorld(t, fixtures.template, fixtures.keys);
  const { release } = await w.publish('2.0.0');
  const server = await startHttpsServer(t, join(w.dir, 'https'), ca);
  await cp(join(w.dir, 'channel'), join(w.dir, 'https'), { recursive: true });

  // Without the CA the certificate is refused.
  await assert.rejects(w.engine({ server: server.url }).update(), { code: 'update.fetch-failed' });

  server.faults.set(`/${GROUP}/${release.payload.url}`, { kind: 'stall', afterBytes: 2000 });
  const stalled = w.engine({ server: server.url, http: { ca: server.ca, idleTimeoutMs: 200 } });
  await assert.rejects(stalled.update(), { code: 'update.fetch-failed' });
  assert.equal((await cgptAttributes(w.disk.path, 'B')).priority, 0);
  assert.equal((await w.boot()).slot, 'A');

  server.faults.clear();
  const result = await w.engine({ server: server.url, http: { ca: server.ca } }).update();
  assert.equal(result?.target, 'B');
  assert.equal(await versionIn(w, 'B'), '2.0.0');
  assert.equal((await w.boot()).slot, 'B');
});
