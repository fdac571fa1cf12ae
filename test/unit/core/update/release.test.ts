import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertNotExpired, decideRelease, parseRelease } from '../../../../agent/core/update/release.js';

const sha = 'AB'.repeat(64);
const good = { version: '2.0.0', expires: '2027-01-31T00:00:00Z', payload: { url: 'payload.img.xz', size: 4096, sha512: sha, compression: 'xz' } };

test('a valid manifest, sha512 lower-cased, compression defaulting to none', () => {
  assert.deepEqual(parseRelease(good, 'u'), { version: '2.0.0', expires: '2027-01-31T00:00:00Z', payload: { url: 'payload.img.xz', size: 4096, sha512: sha.toLowerCase(), compression: 'xz' } });
  const { compression: _c, ...noCompression } = good.payload;
  assert.equal(parseRelease({ ...good, payload: noCompression }, 'u').payload.compression, 'none');
});

test('bad manifests are refused with update.bad-manifest', () => {
  const cases: unknown[] = [
    null,
    [],
    { ...good, version: 'v2.0' },
    { ...good, version: 12 },
    { version: '2.0.0' },
    { ...good, expires: undefined },
    { ...good, expires: '2027-01-31' },
    { ...good, expires: 'tomorrow' },
    { ...good, expires: 1800000000 },
    { ...good, expires: '2027-02-30T00:00:00Z' },
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

test('the issue\'s replays: older releases are refused on every version scheme', () => {
  const at = (version: string) => parseRelease({ ...good, version }, 'u');
  for (const [current, offered] of [['12', '11'], ['2.0', '1.9'], ['2.0.0', '1.9.9'], ['1:1.0', '9.9'], ['2.0', '2.0~rc1'], ['1.0.0', '1.0.0-rc.1']]) {
    assert.deepEqual(decideRelease(at(offered!), { current: current!, failed: [] }), { take: false, reason: 'not-newer' }, `${offered} on ${current}`);
    assert.deepEqual(decideRelease(at(offered!), { current: current!, failed: [], allowDowngrade: true }), { take: true });
  }
  for (const [current, offered] of [['12', '12'], ['2.0', '2.00'], ['1.0.0', '1.0.0+rebuild']]) {
    assert.deepEqual(decideRelease(at(offered!), { current: current!, failed: [], allowDowngrade: true }), { take: false, reason: 'same' }, `${offered} on ${current}`);
  }
  assert.deepEqual(decideRelease(at('13'), { current: '12', failed: [] }), { take: true });
  assert.deepEqual(decideRelease(at('2.1'), { current: '2.0', failed: [] }), { take: true });
  assert.deepEqual(decideRelease(at('2.1'), { current: '2.0', failed: ['2.10'] }), { take: true });
  assert.deepEqual(decideRelease(at('2.10'), { current: '2.0', failed: ['2.010'] }), { take: false, reason: 'failed-before' });
});

test('a release is refused from its expiry on (update.expired), accepted before', () => {
  const r = parseRelease(good, 'http://x/release.json');
  const expires = Date.parse('2027-01-31T00:00:00Z');
  assert.doesNotThrow(() => assertNotExpired(r, expires - 1, 'u'));
  assert.throws(() => assertNotExpired(r, expires, 'http://x/release.json'), { code: 'update.expired', subject: 'http://x/release.json' });
  assert.throws(() => assertNotExpired(r, expires + 86_400_000, 'u'), /expired at 2027-01-31T00:00:00Z/);
  const offset = parseRelease({ ...good, expires: '2027-01-31T01:00:00+02:00' }, 'u');
  assert.throws(() => assertNotExpired(offset, Date.parse('2027-01-30T23:00:00Z'), 'u'), { code: 'update.expired' });
  assert.doesNotThrow(() => assertNotExpired(offset, Date.parse('2027-01-30T22:59:59Z'), 'u'));
});
