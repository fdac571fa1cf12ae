import { test } from 'node:test';
import assert from 'node:assert/strict';
import { layerEntryKind } from '../../../../agent/core/oci/whiteout.js';

test('whiteouts, opaque markers and AUFS bookkeeping are told from ordinary entries', () => {
  assert.deepEqual(layerEntryKind(['etc', 'passwd'], 'l'), { kind: 'entry' });
  assert.deepEqual(layerEntryKind(['etc', 'wh.x'], 'l'), { kind: 'entry' });
  assert.deepEqual(layerEntryKind(['etc', '.wh.passwd'], 'l'), { kind: 'whiteout', path: ['etc', 'passwd'] });
  assert.deepEqual(layerEntryKind(['.wh.usr'], 'l'), { kind: 'whiteout', path: ['usr'] });
  assert.deepEqual(layerEntryKind(['.wh..hidden'], 'l'), { kind: 'whiteout', path: ['.hidden'] });
  assert.deepEqual(layerEntryKind(['var', 'cache', '.wh..wh..opq'], 'l'), { kind: 'opaque', dir: ['var', 'cache'] });
  assert.deepEqual(layerEntryKind(['.wh..wh..opq'], 'l'), { kind: 'opaque', dir: [] });
  assert.deepEqual(layerEntryKind(['.wh..wh.plnk'], 'l'), { kind: 'ignore' });
  assert.deepEqual(layerEntryKind(['.wh..wh.aufs'], 'l'), { kind: 'ignore' });
});

test('a whiteout that would act outside its directory is refused', () => {
  for (const name of ['.wh.', '.wh..', '.wh...']) {
    assert.throws(() => layerEntryKind(['dir', name], 'layer sha256:1'), (e: any) => {
      assert.equal(e.code, 'image.unsafe-archive');
      assert.equal(e.subject, 'layer sha256:1');
      assert.ok(e.hint);
      return true;
    }, name);
  }
});
