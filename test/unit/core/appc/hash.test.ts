import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hashProblem, isFullImageId, shortHash } from '../../../../agent/core/appc/hash.js';

test('hash strings, with the reference messages', () => {
  const cases: [string, string | undefined][] = [
    ['', 'badly formatted hash string'],
    ['SHA512-abc', 'unrecognized hash type: SHA512'],
    ['md5-abc', 'unrecognized hash type: md5'],
    ['sha512', 'badly formatted hash string'],
    ['sha512-', 'unexpected empty hash value'],
    ['sha512-a-b', 'badly formatted hash string'],
    ['-abc', 'unexpected empty hash type'],
    ['sha512-abc', undefined],
  ];
  for (const [value, problem] of cases) assert.equal(hashProblem(value), problem, value);
});

test('full image IDs and their short form', () => {
  const id = `sha512-${'0123456789abcdef'.repeat(8)}`;
  assert.equal(isFullImageId(id), true);
  assert.equal(isFullImageId(id.slice(0, -1)), false);
  assert.equal(isFullImageId(id.toUpperCase()), false);
  assert.equal(shortHash('sha512-0123456789abcdef0123456789abcdef0123456789abcdef'), 'sha512-0123456789abcdef0123456789abcdef');
  assert.equal(shortHash('sha512-abc'), 'sha512-abc');
});
