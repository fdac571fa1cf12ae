import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RegistryClient } from '../../../agent/host/oci/registry-client.js';
import { parseReference } from '../../../agent/core/oci/reference.js';
import { MEDIA_TYPES } from '../../../agent/core/oci/manifest.js';
import { startRegistry, type Registry } from '../../lib/registry.js';
import { busyboxLayer, OCI, pushImage, writeOciLayout, type BuiltLayout } from '../../lib/oci-image.js';
import { tmpdir } from '../../lib/tmpdir.js';

interface HasAfter { after(fn: () => unknown): void }
const cleanups: (() => unknown)[] = [];
const suite: HasAfter = { after: (fn) => cleanups.push(fn) };
after(async () => {
  for (const fn of cleanups.reverse()) await fn();
});

let registry: Registry;
let layout: string;
let app: BuiltLayout;
let multi: BuiltLayout;

const amd64 = { os: 'linux', architecture: 'amd64' };

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}

async function drain(stream: AsyncIterable<unknown>): Promise<number> {
  let n = 0;
  for await (const chunk of stream) n += (chunk as Buffer).length;
  return n;
}

before(async () => {
  registry = await startRegistry(suite);
  layout = join(await tmpdir(suite, 'oci-layout-'), 'layout');
  app = await writeOciLayout(layout, 'app', {
    layers: [
      { entries: busyboxLayer() },
      { entries: [{ name: 'etc', type: 'directory' }, { name: 'etc/motd', content: 'hello\n' }, { name: 'noise', content: { random: 256 * 1024 } }], compression: 'none' },
    ],
    config: { Entrypoint: ['/bin/sh', '-c'], Cmd: ['echo hi'], Env: ['PATH=/bin', 'A=b=c'], User: '1000:1000', WorkingDir: '/srv', ExposedPorts: { '8080/tcp': {} }, Labels: { l: 'v' } },
  });
  await pushImage(app, `${registry.host}/team/app:1.0`);
  multi = await writeOciLayout(layout, 'multi', [
    { layers: [{ entries: [{ name: 'arch', content: 'amd64\n' }] }], platform: amd64 },
    { layers: [{ entries: [{ name: 'arch', content: 'arm64\n' }] }], platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
    { layers: [{ entries: [{ name: 'arch', content: 'armv6\n' }] }], platform: { os: 'linux', architecture: 'arm', variant: 'v6' } },
  ]);
  await pushImage(multi, `${registry.host}/team/multi:latest`);
});

test('pull by tag: the manifest (OCI), its computed digest, the config and both layers (gzip and uncompressed), each checked', async () => {
  const client = new RegistryClient({ platform: amd64 });
  const ref = parseReference(`docker://${registry.host}/team/app:1.0`);
  const image = await client.resolve(ref);
  assert.equal(image.manifest.digest, app.top.digest);
  assert.equal(image.top.digest, app.top.digest);
  assert.equal(image.manifest.document.mediaType, MEDIA_TYPES.ociManifest);
  assert.deepEqual(image.config.config, {
    entrypoint: ['/bin/sh', '-c'], cmd: ['echo hi'], env: ['PATH=/bin', 'A=b=c'], user: '1000:1000', workingDir: '/srv', exposedPorts: ['8080/tcp'], labels: { l: 'v' },
  });
  assert.deepEqual(image.layers.map((l) => [l.descriptor.digest, l.compression, l.diffId]),
    app.images[0]?.layers.map((l) => [l.digest, l.mediaType === OCI.layerGzip ? 'gzip' : 'none', l.diffId]));
  const dir = await tmpdir(suite, 'blobs-');
  for (const layer of image.layers) {
    const file = join(dir, layer.descriptor.digest.slice(7));
    await client.downloadBlob(ref, layer.descriptor, file);
    assert.equal(await sha256File(file), layer.descriptor.digest);
  }
  // tagDigest: the digest the tag names now, for auto-update.
  assert.equal(await client.tagDigest(ref), app.top.digest);
});

test('pull by digest: the manifest is checked against the digest asked for', async () => {
  const client = new RegistryClient({ platform: amd64 });
  const image = await client.resolve(parseReference(`${registry.host}/team/app@${app.top.digest}`));
  assert.equal(image.manifest.digest, app.top.digest);
  // A digest the registry does not have: not found, naming registry and repository.
  const other = `sha256:${'0'.repeat(64)}`;
  await assert.rejects(client.resolve(parseReference(`${registry.host}/team/app@${other}`)), (e: { code: string; message: string; hint: string }) => {
    assert.equal(e.code, 'image.not-found');
    assert.match(e.message, new RegExp(`registry ${registry.host} \\(repository team/app\\) has no manifest ${other}`));
    assert.match(e.hint, /skopeo list-tags/);
    return true;
  });
  await assert.rejects(client.resolve(parseReference(`${registry.host}/team/app:nope`)), { code: 'image.not-found' });
});

test('an index: the manifest of the wanted platform (and variant), fetched by digest; a missing platform names those the index has', async () => {
  const ref = parseReference(`${registry.host}/team/multi`);
  const pick = async (platform: { os: string; architecture: string; variant?: string }) => {
    const image = await new RegistryClient({ platform }).resolve(ref);
    assert.equal(image.top.digest, multi.top.digest);
    assert.equal(image.top.document.kind, 'index');
    return image.manifest.digest;
  };
  const [x64, arm64, armv6] = multi.images.map((i) => i.manifest.digest);
  assert.equal(await pick(amd64), x64);
  assert.equal(await pick({ os: 'linux', architecture: 'arm64', variant: 'v8' }), arm64);
  assert.equal(await pick({ os: 'linux', architecture: 'arm', variant: 'v7' }), armv6, 'an armv7 host runs armv6 images');
  await assert.rejects(new RegistryClient({ platform: { os: 'linux', architecture: 's390x' } }).resolve(ref), (e: { code: string; message: string }) => {
    assert.equal(e.code, 'image.platform-missing');
    assert.match(e.message, /no manifest for linux\/s390x; it has linux\/amd64, linux\/arm64\/v8, linux\/arm\/v6/);
    return true;
  });
  await assert.rejects(new RegistryClient({ platform: { os: 'linux', architecture: 'arm', variant: 'v5' } }).resolve(ref), { code: 'image.platform-missing' });
  // The tag's digest is the index's.
  assert.equal(await new RegistryClient().tagDigest(ref), multi.top.digest);
});

test('Docker v2 schema 2 (skopeo --format v2s2): manifest, config, a gzip and an uncompressed layer', async () => {
  await pushImage(app, `${registry.host}/team/docker:v2`, { format: 'v2s2' });
  const client = new RegistryClient({ platform: amd64 });
  const ref = parseReference(`${registry.host}/team/docker:v2`);
  const image = await client.resolve(ref);
  assert.equal(image.manifest.document.mediaType, MEDIA_TYPES.dockerManifest);
  assert.equal(image.manifest.document.config.mediaType, MEDIA_TYPES.dockerConfig);
  assert.deepEqual(image.layers.map((l) => [l.descriptor.mediaType, l.compression]),
    [[MEDIA_TYPES.dockerLayerGzip, 'gzip'], [MEDIA_TYPES.dockerLayer, 'none']]);
  assert.deepEqual(image.config.diffIds, app.images[0]?.layers.map((l) => l.diffId));
  assert.deepEqual(image.config.config.cmd, ['echo hi']);
  const dir = await tmpdir(suite, 'blobs-');
  for (const layer of image.layers) await client.downloadBlob(ref, layer.descriptor, join(dir, layer.descriptor.digest.slice(7)));
  assert.equal(await client.tagDigest(ref), image.manifest.digest);
});

test('a zstd layer is refused with a clear error before any layer is fetched', async () => {
  const zstd = await writeOciLayout(layout, 'zstd', { layers: [{ entries: [{ name: 'x', content: 'x' }], mediaType: OCI.layerZstd }] });
  await pushImage(zstd, `${registry.host}/team/zstd:1`);
  await assert.rejects(new RegistryClient({ platform: amd64 }).resolve(parseReference(`${registry.host}/team/zstd:1`)), (e: { code: string; message: string; hint: string }) => {
    assert.equal(e.code, 'image.unsupported-compression');
    assert.match(e.message, /compressed with zstd/);
    assert.match(e.hint, /gzip/);
    return true;
  });
});

test('a blob changed in the registry storage: the stream fails with a digest error before it ends; downloadBlob removes the file', async () => {
  const client = new RegistryClient({ platform: amd64 });
  const ref = parseReference(`${registry.host}/team/app:1.0`);
  const layer = app.images[0]?.layers[1];
  assert.ok(layer);
  const hex = layer.digest.slice(7);
  const data = join(registry.storageDir, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
  const original = await readFile(data);
  const tampered = Buffer.from(original);
  tampered[tampered.length - 100] ^= 0xff;
  await writeFile(data, tampered);
  try {
    const stream = await client.fetchBlob(ref, layer);
    let ended = false;
    stream.on('end', () => { ended = true; });
    await assert.rejects(drain(stream), (e: { code: string; message: string }) => {
      assert.equal(e.code, 'image.digest-mismatch');
      assert.match(e.message, new RegExp(`blob ${layer.digest} from ${registry.host} \\(repository team/app\\) has digest sha256:[0-9a-f]{64}, not ${layer.digest}`));
      return true;
    });
    assert.equal(ended, false, 'the stream never ends normally');
    const file = join(await tmpdir(suite, 'blobs-'), 'blob');
    await assert.rejects(client.downloadBlob(ref, layer, file), { code: 'image.digest-mismatch' });
    await assert.rejects(readFile(file), { code: 'ENOENT' });
  } finally {
    await writeFile(data, original);
  }
});

test('a manifest changed in the registry storage: a fetch by digest fails with a digest error', async () => {
  const hex = app.top.digest.slice(7);
  const data = join(registry.storageDir, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
  const original = await readFile(data, 'utf8');
  await writeFile(data, original.replace('"schemaVersion":2', '"schemaVersion": 2'));
  try {
    await assert.rejects(new RegistryClient({ platform: amd64 }).resolve(parseReference(`${registry.host}/team/app@${app.top.digest}`)), (e: { code: string; message: string }) => {
      assert.equal(e.code, 'image.digest-mismatch');
      assert.match(e.message, new RegExp(`the manifest from ${registry.host} \\(repository team/app\\) has digest sha256:[0-9a-f]{64}, not ${app.top.digest}`));
      return true;
    });
  } finally {
    await writeFile(data, original);
  }
});

test('a blob download can be cancelled mid-way: image.cancelled, the partial file kept for a resume', async () => {
  const client = new RegistryClient({ platform: amd64 });
  const ref = parseReference(`${registry.host}/team/app:1.0`);
  const layer = app.images[0]?.layers[1];
  assert.ok(layer);
  const file = join(await tmpdir(suite, 'blobs-'), 'blob');
  const controller = new AbortController();
  await assert.rejects(client.downloadBlob(ref, layer, file, { signal: controller.signal, onProgress: (done) => { if (done > 0) controller.abort(); } }),
    { code: 'image.cancelled' });
  await client.downloadBlob(ref, layer, file);
  assert.equal(await sha256File(file), layer.digest);
});

test('a blob longer or shorter than its descriptor says fails the stream (a longer one at the first byte too many)', async () => {
  const client = new RegistryClient({ platform: amd64 });
  const ref = parseReference(`${registry.host}/team/app:1.0`);
  const layer = app.images[0]?.layers[1];
  assert.ok(layer);
  let received = 0;
  await assert.rejects(drain(await client.fetchBlob(ref, { ...layer, size: 1000 }, { onProgress: (done) => { received = done; } })), (e: { code: string; message: string }) => {
    assert.equal(e.code, 'image.digest-mismatch');
    assert.match(e.message, /is longer than the 1000 bytes its manifest gives/);
    return true;
  });
  assert.ok(received < layer.size, `stopped after ${received} of ${layer.size} bytes`);
  await assert.rejects(drain(await client.fetchBlob(ref, { ...layer, size: layer.size + 1 })), (e: { code: string; message: string }) => {
    assert.equal(e.code, 'image.digest-mismatch');
    assert.match(e.message, new RegExp(`has ${layer.size} bytes, not the ${layer.size + 1} its manifest gives`));
    return true;
  });
});
