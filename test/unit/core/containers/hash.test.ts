import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalJson, specHash as hashOf, UNIT_FORMAT } from '../../../../agent/core/containers/canonical.js';
import type { RenderInput } from '../../../../agent/core/containers/spec.js';
import { input, sha256Hex } from './helpers.js';

const specHash = (i: RenderInput): string => hashOf(i, sha256Hex);

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

test('a one-layer image hashes as units did before layers, so an upgraded agent leaves its containers running', () => {
  const i = input();
  const { image, ...spec } = i.spec;
  const { imageLayers: _layers, ...host } = i.host;
  // The canonical form of UNIT_FORMAT 2 as it was written with `imageRootfs: string`.
  const before = `sha256-${sha256Hex(canonicalJson({ format: UNIT_FORMAT, spec: { ...spec, image: image.id }, host: { ...host, imageRootfs: i.host.imageLayers[0] } }))}`;
  assert.equal(specHash(i), before);
  assert.notEqual(specHash(input({}, { imageLayers: [...i.host.imageLayers, '/var/lib/host-agent/layers/x/diff'] })), before, 'another layer is another unit');
});
