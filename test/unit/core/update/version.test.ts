import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareVersions, isVersion } from '../../../../agent/core/update/version.js';

/** Each row: older < newer. */
const ORDERED: Array<[string, string]> = [
  // the schemes: VERSION_ID as plain numbers and dotted numbers
  ['11', '12'],
  ['9', '10'],
  ['1.9', '2.0'],
  ['2.0', '2.1'],
  ['2.9', '2.10'],
  ['2.0', '12'],
  ['2023.4', '2023.10.1'],
  ['2.0', '2.0.1'],
  // semver §11, the spec's example chain, and build metadata ignored
  ['1.0.0-alpha', '1.0.0-alpha.1'],
  ['1.0.0-alpha.1', '1.0.0-alpha.beta'],
  ['1.0.0-alpha.beta', '1.0.0-beta'],
  ['1.0.0-beta', '1.0.0-beta.2'],
  ['1.0.0-beta.2', '1.0.0-beta.11'],
  ['1.0.0-beta.11', '1.0.0-rc.1'],
  ['1.0.0-rc.1', '1.0.0'],
  ['1.0.0', '2.0.0'],
  ['2.0.0', '2.1.0'],
  ['2.1.0', '2.1.1'],
  ['9.0.0', '10.0.0'],
  ['1.0.0-1', '1.0.0-alpha'],
  ['1.0.0-rc.1+build.9', '1.0.0+build.1'],
  // Debian: epoch, revision, ~ before everything, letters before other characters
  ['1.0', '1:0.1'],
  ['1:9.9', '2:0.1'],
  ['2.0-1', '2.0-2'],
  ['2.0', '2.0-1'],
  ['2.0~rc1', '2.0'],
  ['2.0~~', '2.0~'],
  ['2.0~rc1', '2.0~rc2'],
  ['1.0a', '1.0+'],
  ['1.0', '1.0a'],
  ['7.6p2-4', '7.6p2-5'],
  // mixed: semver pre-releases against Debian tildes and dotted numbers
  ['1.0.0-rc.1', '1.0.0~rc.2'],
  ['0.9', '1.0.0-rc.1'],
  ['1.0.0-rc.1', '1.0.0.1'],
];

const EQUAL: Array<[string, string]> = [
  ['12', '12'],
  ['1.0', '1.00'],
  ['0:2.0', '2.0'],
  ['1.2.3+build.5', '1.2.3'],
  ['1.0.0+a', '1.0.0+b'],
  ['1.0.0-rc.1', '1.0.0~rc.1'],
];

test('the order of versions, table-driven (both directions)', () => {
  for (const [older, newer] of ORDERED) {
    assert.equal(compareVersions(older, newer), -1, `${older} < ${newer}`);
    assert.equal(compareVersions(newer, older), 1, `${newer} > ${older}`);
  }
  for (const [a, b] of EQUAL) {
    assert.equal(compareVersions(a, b), 0, `${a} = ${b}`);
    assert.equal(compareVersions(b, a), 0, `${b} = ${a}`);
  }
});

test('the order is total and consistent: antisymmetric and transitive over every pair and triple', () => {
  const all = [...new Set([...ORDERED.flat(), ...EQUAL.flat(), '0.0.0', 'bookworm', '', '1.0.0-x.7.z.92', '1_2'])];
  for (const a of all) {
    assert.equal(compareVersions(a, a), 0, a);
    for (const b of all) {
      assert.equal(compareVersions(a, b), 0 - compareVersions(b, a) || 0, `${a} vs ${b}`);
      for (const c of all) {
        if (compareVersions(a, b) <= 0 && compareVersions(b, c) <= 0) assert.ok(compareVersions(a, c) <= 0, `${a} <= ${b} <= ${c}`);
      }
    }
  }
});

test('what a release may call its version', () => {
  for (const v of ['12', '2.0', '2.0.0', '1.0.0-rc.1+b', '1:2.0~rc1-3', '2023.10.1', '1_2']) assert.ok(isVersion(v), v);
  for (const v of ['', 'v1.2.3', 'bookworm', '1.0 beta', '-1', '1/2']) assert.ok(!isVersion(v), v);
});
