/**
 * The format-neutral image model: the appc adapter (manifest → record), reference matching
 * on the record, store IDs, and the check of a stored record.json.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateImageManifest } from '../../../../agent/core/appc/manifest.js';
import { appcRecord } from '../../../../agent/core/appc/record.js';
import { checkImageRecord } from '../../../../agent/core/image/check.js';
import { isImageId, looksLikeImageId, shortImageId } from '../../../../agent/core/image/id.js';
import { answersToAppRef, labelOf } from '../../../../agent/core/image/match.js';
import type { ImageRecord } from '../../../../agent/core/image/record.js';

const APPC_ID = `sha512-${'ab'.repeat(64)}`;
const OCI_ID = `sha256-${'cd'.repeat(32)}`;

const manifest = validateImageManifest({
  acKind: 'ImageManifest',
  acVersion: '0.8.11',
  name: 'example.com/web',
  labels: [{ name: 'version', value: '1.4.0' }, { name: 'os', value: 'linux' }, { name: 'arch', value: 'amd64' }],
  annotations: [{ name: 'authors', value: 'ops' }, { name: 'homepage', value: 'https://example.com' }],
  app: {
    exec: ['/bin/httpd', '-f'],
    user: 'www',
    group: '33',
    workingDirectory: '/srv',
    environment: [{ name: 'PATH', value: '/bin' }, { name: 'MODE', value: 'prod' }],
    ports: [{ name: 'http', protocol: 'tcp', port: 8080 }, { name: 'range', protocol: 'udp', port: 9000, count: 10 }, { name: 'sctp', protocol: 'sctp', port: 7 }],
    isolators: [{ name: 'resource/memory', value: { limit: '256Mi' } }],
    userAnnotations: { homepage: 'https://app.example.com', owner: 'team-a' },
    userLabels: { owner: 'team-b', tier: 'front' },
  },
});

test('appc adapter: one layer (the image itself), labels, run config from app, annotations merged', () => {
  assert.deepEqual(appcRecord(manifest, APPC_ID), {
    id: APPC_ID,
    format: 'appc',
    name: 'example.com/web',
    labels: [{ name: 'version', value: '1.4.0' }, { name: 'os', value: 'linux' }, { name: 'arch', value: 'amd64' }],
    // Manifest annotations, then userAnnotations, then userLabels: a later name wins.
    annotations: { authors: 'ops', homepage: 'https://app.example.com', owner: 'team-b', tier: 'front' },
    layers: [APPC_ID],
    run: {
      exec: ['/bin/httpd', '-f'],
      environment: [['PATH', '/bin'], ['MODE', 'prod']],
      user: 'www',
      group: '33',
      workingDirectory: '/srv',
      // A container forwards tcp and udp only; a range keeps its count.
      ports: [{ name: 'http', port: 8080, protocol: 'tcp' }, { name: 'range', port: 9000, protocol: 'udp', count: 10 }],
      isolators: [{ name: 'resource/memory', value: { limit: '256Mi' } }],
    },
  });
});

test('appc adapter: an image without app has no run config; no working directory is left out', () => {
  const { app: _app, ...bare } = manifest;
  assert.equal(appcRecord(bare, APPC_ID).run, undefined);
  const plain = validateImageManifest({ acKind: 'ImageManifest', acVersion: '0.8.11', name: 'x.org/y', app: { exec: ['/y'], user: '0', group: '0' } });
  const run = appcRecord(plain, APPC_ID).run!;
  assert.equal('workingDirectory' in run, false);
  assert.deepEqual(appcRecord(plain, APPC_ID).annotations, {});
});

test('an appc reference matches on name and every label given', () => {
  const record = appcRecord(manifest, APPC_ID);
  assert.ok(answersToAppRef(record, { name: 'example.com/web', labels: {} }));
  assert.ok(answersToAppRef(record, { name: 'example.com/web', labels: { version: '1.4.0', arch: 'amd64' } }));
  assert.ok(!answersToAppRef(record, { name: 'example.com/web', labels: { version: '1.5.0' } }));
  assert.ok(!answersToAppRef(record, { name: 'example.com/web', labels: { channel: 'stable' } }), 'a label the image does not have');
  assert.ok(!answersToAppRef(record, { name: 'example.com/other', labels: {} }));
  assert.equal(labelOf(record, 'version'), '1.4.0');
  assert.equal(labelOf(record, 'channel'), undefined);
});

test('store IDs: appc sha512 and OCI sha256, full, prefixed and short', () => {
  assert.ok(isImageId(APPC_ID) && isImageId(OCI_ID));
  for (const bad of [`sha512-${'a'.repeat(64)}`, `sha256-${'a'.repeat(128)}`, `sha256-${'A'.repeat(64)}`, `md5-${'a'.repeat(32)}`, `${OCI_ID}\n`]) assert.ok(!isImageId(bad), bad);
  assert.ok(looksLikeImageId('sha256-cdcd') && looksLikeImageId('sha512-') && !looksLikeImageId('example.com/web'));
  assert.equal(shortImageId(APPC_ID), `sha512-${'ab'.repeat(6)}`);
  assert.equal(shortImageId(OCI_ID), `sha256-${'cd'.repeat(6)}`);
});

const OCI: ImageRecord = {
  id: OCI_ID,
  format: 'oci',
  name: '127.0.0.1:5000/library/web',
  labels: [{ name: 'version', value: 'latest' }],
  annotations: { 'org.opencontainers.image.source': 'https://example.com' },
  reference: 'docker://127.0.0.1:5000/library/web:latest',
  digest: `sha256:${'cd'.repeat(32)}`,
  layers: [`sha256-${'01'.repeat(32)}`, `sha256-${'02'.repeat(32)}`],
  run: { exec: ['/bin/web'], environment: [['PATH', '/bin']], user: '1000', ports: [{ name: '80/tcp', port: 80, protocol: 'tcp' }], isolators: [] },
};

test('record.json: a whole record of this image is accepted; anything else is refused', () => {
  assert.deepEqual(checkImageRecord(OCI, OCI_ID), { value: OCI });
  assert.deepEqual(checkImageRecord({ ...OCI, extra: 1 }, OCI_ID), { value: OCI }, 'unknown fields are not kept');
  const { run: _run, reference: _ref, digest: _digest, ...bare } = OCI;
  assert.deepEqual(checkImageRecord(bare, OCI_ID), { value: bare });
  const bad: unknown[] = [
    null, [], 'x', { ...OCI, id: APPC_ID }, { ...OCI, format: 'docker' }, { ...OCI, name: '' }, { ...OCI, labels: [{ name: 'a' }] },
    { ...OCI, annotations: { a: 1 } }, { ...OCI, layers: [] }, { ...OCI, layers: ['../../etc'] }, { ...OCI, digest: 5 },
    { ...OCI, run: { ...OCI.run, exec: '/bin/sh' } }, { ...OCI, run: { ...OCI.run, environment: [['A']] } },
    { ...OCI, run: { ...OCI.run, user: 0 } }, { ...OCI, run: { ...OCI.run, ports: [{ name: 'x', port: 1, protocol: 'sctp' }] } },
    { ...OCI, run: { ...OCI.run, isolators: undefined } },
  ];
  for (const json of bad) assert.ok('refused' in checkImageRecord(json, OCI_ID), JSON.stringify(json));
  assert.match((checkImageRecord({ ...OCI, layers: ['x'] }, OCI_ID) as { refused: string }).refused, /layers are not a list of layer IDs/);
});
