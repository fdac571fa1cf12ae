import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decideRelease, parseRelease } from '../../../../agent/core/update/release.js';

const sha = 'AB'.repeat(64);
const good = { version: '2.0.0', payload: { url: 'payload.img.xz', size: 4096, sha512: sha, compression: 'xz' } };

test('a valid manifest, sha512 lower-cased, compression defaulting to none', () => {
  assert.deepEqual(parseRelease(good, 'u'), { version: '2.0.0', payload: { url: 'payload.img.xz', size: 4096, sha512: sha.toLowerCase(), compression: 'xz' } });
  const { compression: _c, ...noCompression } = good.payload;
  assert.equal(parseRelease({ ...good, payload: noCompression }, 'u').payload.compression, 'none');
});

test('bad manifests are refused with update.bad-manifest', () => {
  const cases: unknown[] = [
    null,
    [],
    { ...good, version: '2.0' },
    { version: '2.0.0' },
    { ...good, payload: { ...good.payload, url: '' } },
    { ...good, payload: { ...good.payload, size: -1 } },
    { ...good, payload: { ...good.payload, size: 1.5 } },
    { ...good, payload: { ...good.payload, size: '4096' } },
    { ...good, payload: { ...good.payload, sha512: 'abc' } },
    { ...good, payload: { ...good.payload, compression: 'bzip2' } },
  ];
  for (const c of cases) assert.throws(() => parseRelease(c, 'http://x/release.json'), { code: 'update.bad-manifest', subject: 'http://x/release.json' }, JSON.stringify(c));
});

test('only newer versions are taken, unless downgrades are allowed; failed versions never', () => {
  const r = parseRelease(good, 'u');
  assert.deepEqual(decideRelease(r, { current: '1.9.9', failed: [] }), { take: true });
  assert.deepEqual(decideRelease(r, { current: '2.0.0', failed: [] }), { take: false, reason: 'same' });
  assert.deepEqual(decideRelease(r, { current: '2.0.1', failed: [] }), { take: false, reason: 'not-newer' });
  assert.deepEqual(decideRelease(r, { current: '2.0.1', failed: [], allowDowngrade: true }), { take: true });
  assert.deepEqual(decideRelease(r, { current: '2.0.0-rc.1', failed: [] }), { take: true });
  assert.deepEqual(decideRelease(r, { current: '1.0.0', failed: ['2.0.0'] }), { take: false, reason: 'failed-before' });
  assert.deepEqual(decideRelease(r, { current: '1.0.0', failed: ['2.0.0'], allowDowngrade: true }), { take: false, reason: 'failed-before' });
});
