import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { sha256Hex } from '../../../../agent/core/containers/sha256.js';
import { canonicalJson, specHash } from '../../../../agent/core/containers/canonical.js';
import { input } from './helpers.js';

test('sha256Hex matches node:crypto on block edges and non-ASCII text', () => {
  for (const text of ['', 'abc', 'a'.repeat(55), 'a'.repeat(56), 'a'.repeat(63), 'a'.repeat(64), 'a'.repeat(1000), 'héllo €𝄞\n']) {
    assert.equal(sha256Hex(text), createHash('sha256').update(text, 'utf8').digest('hex'), `${text.length} chars`);
  }
});

test('canonical JSON sorts keys and drops undefined', () => {
  assert.equal(canonicalJson({ b: 1, a: [1, { d: undefined, c: 'x' }], e: undefined }), '{"a":[1,{"c":"x"}],"b":1}');
});

test('the spec hash is stable, ignores key order, and changes with anything that changes the unit', () => {
  const base = specHash(input());
  assert.equal(specHash(input()), base);
  assert.equal(specHash(input({ environment: { A: '1', B: '2' } })), specHash(input({ environment: { B: '2', A: '1' } })));
  for (const changed of [input({ memoryBytes: 1 }), input({ restart: 'always' }), input({}, { outputFile: '/x.log' }), input({ exec: ['/bin/true'] })]) {
    assert.notEqual(specHash(changed), base);
  }
});
