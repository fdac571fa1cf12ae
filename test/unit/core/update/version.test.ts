import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareSemVer, parseSemVer } from '../../../../agent/core/update/version.js';

const cmp = (a: string, b: string): number => compareSemVer(parseSemVer(a)!, parseSemVer(b)!);

test('precedence follows semver §11 (the spec example chain)', () => {
  const chain = ['1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0', '2.0.0', '2.1.0', '2.1.1', '10.0.0'];
  for (let i = 0; i + 1 < chain.length; i++) {
    assert.equal(cmp(chain[i]!, chain[i + 1]!), -1, `${chain[i]} < ${chain[i + 1]}`);
    assert.equal(cmp(chain[i + 1]!, chain[i]!), 1);
  }
  assert.equal(cmp('1.2.3+build.5', '1.2.3'), 0);
});

test('not semantic versions', () => {
  for (const v of ['1.2', '01.2.3', '1.2.3-', 'v1.2.3', '1.2.3-01', '', '1.2.3.4']) assert.equal(parseSemVer(v), undefined, v);
  assert.deepEqual(parseSemVer('3.4.5-rc.1+x'), { major: 3, minor: 4, patch: 5, prerelease: ['rc', '1'] });
});
