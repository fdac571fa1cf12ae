import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkLayerInfo, layerIdOf } from '../../../../agent/host/oci/layer-store.js';

const hex = 'a'.repeat(64);
const id = `sha256-${hex}`;

test('the layer ID is the diff ID with a dash; other diff IDs are refused', () => {
  assert.equal(layerIdOf(`sha256:${hex}`), id);
  for (const bad of [`sha512:${'a'.repeat(128)}`, `sha256:${'A'.repeat(64)}`, `sha256:${hex}/..`, hex, '']) {
    assert.throws(() => layerIdOf(bad), { code: 'image.bad-digest' }, bad);
  }
});

test('a layer record is accepted only whole and for its own layer', () => {
  const good = { id, diffId: `sha256:${hex}`, digest: `sha256:${'b'.repeat(64)}`, size: 10, created: '2026-12-06T00:00:00.000Z' };
  assert.deepEqual(checkLayerInfo(good, id), { value: good });
  assert.deepEqual(checkLayerInfo({ ...good, digest: null }, id), { value: { ...good, digest: null } });
  assert.deepEqual(checkLayerInfo({ ...good, diffId: `sha256:${'c'.repeat(64)}` }, id), { refused: 'diffId does not match the layer' });
  assert.deepEqual(checkLayerInfo({ ...good, size: -1, created: 'yesterday' }, id), { refused: 'size is not a byte count, created is not a time' });
  assert.deepEqual(checkLayerInfo([], id), { refused: 'it is not a JSON object' });
});
