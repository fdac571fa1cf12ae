/** Path resolution for write_files. */
import assert from 'node:assert/strict';
import { posix } from 'node:path';
import { test } from 'node:test';
import { isInside, resolveAbsolute } from '../../../../agent/core/config/paths.js';

test('resolveAbsolute agrees with path.posix.resolve from /', () => {
  for (const p of ['/etc/motd', '/etc/../usr/x', '//usr/./lib//x/', 'usr/x', '../../../etc/x', '/', '', '.', '/a/b/../../..', 'a/./b/../c']) {
    assert.equal(resolveAbsolute(p), posix.resolve('/', p), p);
  }
});

test('isInside: strictly inside, never a sibling with the same prefix', () => {
  assert.equal(isInside('/usr/x', '/usr'), true);
  assert.equal(isInside('/usr', '/usr'), false);
  assert.equal(isInside('/usrlocal/x', '/usr'), false);
});
