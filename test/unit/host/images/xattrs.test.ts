import { test } from 'node:test';
import assert from 'node:assert/strict';
import { xattrDump } from '../../../../agent/host/images/xattrs.js';

test('the dump quotes paths as getfattr does and hex-encodes values', () => {
  assert.equal(
    xattrDump([{ path: 'rootfs/a b\\c', attrs: [['user.x', 'hé'], ['user.empty', '']] }]),
    '# file: rootfs/a\\040b\\134c\nuser.x=0x68c3a9\nuser.empty=""\n',
  );
});
