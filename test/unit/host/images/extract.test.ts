import { test } from 'node:test';
import assert from 'node:assert/strict';
import { entryComponents } from '../../../../agent/host/images/extract.js';

test('archive entry names become path components; "." and empty parts vanish', () => {
  assert.deepEqual(entryComponents('rootfs/bin/sh', 'img'), ['rootfs', 'bin', 'sh']);
  assert.deepEqual(entryComponents('./rootfs//etc/./passwd', 'img'), ['rootfs', 'etc', 'passwd']);
  assert.deepEqual(entryComponents('rootfs/', 'img'), ['rootfs']);
  assert.deepEqual(entryComponents('./', 'img'), []);
});

test('absolute names, ".." and NUL bytes are refused as unsafe', () => {
  for (const [name, why] of [
    ['/etc/passwd', /absolute path/],
    ['rootfs/../../x', /climbs out/],
    ['rootfs/a/..', /climbs out/],
    ['..', /climbs out/],
    ['rootfs/a\0b', /NUL byte/],
  ] as const) {
    assert.throws(() => entryComponents(name, 'example.com/app'), (e: any) => {
      assert.equal(e.code, 'image.unsafe-archive');
      assert.equal(e.subject, 'example.com/app');
      assert.match(e.message, why);
      return true;
    }, name);
  }
});
