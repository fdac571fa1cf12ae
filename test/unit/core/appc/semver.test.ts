import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSemVer, semverProblem } from '../../../../agent/core/appc/semver.js';

test('SemVer strings, with the reference messages', () => {
  const cases: [string, string | undefined][] = [
    ['0.0.0', 'SemVer cannot be zero'],
    ['0.8.11', undefined],
    ['0.8.11+git', undefined],
    ['1.0', 'SemVer is bad'],
    ['1.0.0-alpha', undefined],
    ['v1.0.0', 'SemVer is bad'],
    ['1.0.0.0', 'SemVer is bad'],
    ['1.x.0', 'SemVer is bad'],
    ['', 'SemVer is bad'],
    ['0.0.0-rc1', undefined],
  ];
  for (const [value, problem] of cases) assert.equal(semverProblem(value), problem, value);
});

test('parts of a SemVer', () => {
  assert.deepEqual(parseSemVer('1.2.3-rc.1+build.5'), { major: 1, minor: 2, patch: 3, preRelease: 'rc.1', metadata: 'build.5' });
});
