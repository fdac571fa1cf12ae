import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, readdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ImageRecord } from '../../../agent/core/image/record.js';
import { ImageStore, type ImageInfo } from '../../../agent/host/images/store.js';
import { tmpdir } from '../../lib/tmpdir.js';

function info(name: string, version: string, imported: string): ImageInfo {
  return {
    id: `sha512-${createHash('sha512').update(`${name}:${version}`).digest('hex')}`,
    format: 'appc',
    name,
    labels: [{ name: 'version', value: version }, { name: 'os', value: 'linux' }],
    size: 1024,
    imported,
    lastUsed: null,
    source: `/images/${name}-${version}.aci`,
    signer: null,
  };
}

/** Stores a minimal tree as image `i`, the way a fetch commits it. */
async function put(store: ImageStore, i: ImageInfo): Promise<ImageInfo> {
  const work = await store.newTempDir('extract');
  await mkdir(join(work, 'rootfs'));
  await writeFile(join(work, 'manifest'), '{}');
  return store.commit(work, i);
}

test('images are found by ID, ID prefix, name and labels; the latest import wins', async (t) => {
  const store = await ImageStore.open({ stateDir: await tmpdir(t) });
  const v1 = await put(store, info('example.com/app', '1', '2026-01-01T00:00:00.000Z'));
  const v2 = await put(store, info('example.com/app', '2', '2026-02-01T00:00:00.000Z'));
  assert.deepEqual(await store.get(v1.id), v1);
  assert.deepEqual(await store.get(v2.id.slice(0, 'sha512-'.length + 32)), v2);
  assert.deepEqual(await store.get('example.com/app'), v2);
  assert.deepEqual(await store.get('example.com/app', [{ name: 'version', value: '1' }]), v1);
  await assert.rejects(store.get('example.com/app', [{ name: 'version', value: '3' }]), (e: any) => e.code === 'image.not-in-store' && e.subject === 'example.com/app,version=3');
  await assert.rejects(store.get('sha512-'), { code: 'image.ambiguous-id' });
  await assert.rejects(store.get('example.com/none'), (e: any) => /agentctl fetch/.test(e.hint));
});

test('a second import of the same name and labels takes over the index; the old image stays until gc', async (t) => {
  const store = await ImageStore.open({ stateDir: await tmpdir(t) });
  const old = await put(store, info('example.com/app', '1', '2026-01-01T00:00:00.000Z'));
  const rebuilt = await put(store, { ...info('example.com/app', '1b', '2026-01-02T00:00:00.000Z'), labels: old.labels });
  assert.deepEqual(await store.get('example.com/app', [{ name: 'version', value: '1' }]), rebuilt);
  assert.equal((await store.list()).length, 2);
});

test('remove and gc: unreferenced images older than the grace period go, used ones stay', async (t) => {
  const store = await ImageStore.open({ stateDir: await tmpdir(t) });
  const old = await put(store, info('example.com/old', '1', '2026-01-01T00:00:00.000Z'));
  const used = await put(store, info('example.com/used', '1', '2026-01-01T00:00:00.000Z'));
  const fresh = await put(store, info('example.com/fresh', '1', '2026-03-01T00:00:00.000Z'));
  const touched = await put(store, info('example.com/touched', '1', '2026-01-01T00:00:00.000Z'));
  await store.touch(touched.id, new Date('2026-03-01T12:00:00Z'));
  assert.equal((await store.get(touched.id)).lastUsed, '2026-03-01T12:00:00.000Z');

  const removed = await store.gc(new Set([used.id]), 7 * 24 * 3600_000, new Date('2026-03-02T00:00:00Z'));
  assert.deepEqual(removed, [old.id]);
  assert.deepEqual((await store.list()).map((i) => i.name), ['example.com/fresh', 'example.com/touched', 'example.com/used']);
  await assert.rejects(store.get('example.com/old'), { code: 'image.not-in-store' });

  await store.remove(fresh.id);
  await assert.rejects(store.remove(fresh.id), { code: 'image.not-in-store' });
  assert.ok(!(await readdir(store.dir)).some((n) => n.startsWith('.tmp-')));
  await store.close();
  const reopened = await ImageStore.open({ stateDir: store.dir.replace(/\/images$/, '') });
  assert.deepEqual((await reopened.list()).map((i) => i.name), ['example.com/touched', 'example.com/used']);
});

test('an OCI image keeps its record; an appc image gets one from its manifest; layer directories by ID', async (t) => {
  const stateDir = await tmpdir(t);
  const warnings: string[] = [];
  const store = await ImageStore.open({ stateDir, warn: (m) => warnings.push(m) });
  const appc = info('example.com/app', '1', '2026-01-01T00:00:00.000Z');
  const work = await store.newTempDir('extract');
  await mkdir(join(work, 'rootfs'));
  await writeFile(join(work, 'manifest'), JSON.stringify({ acKind: 'ImageManifest', acVersion: '0.8.11', name: appc.name, labels: appc.labels, app: { exec: ['/bin/app'], user: '0', group: '0' } }));
  // A meta.json of an earlier agent has no format.
  const { format: _format, ...old } = appc;
  await writeFile(join(work, 'meta.json'), JSON.stringify(old));
  await rename(work, store.imageDir(appc.id));
  const record = await store.record(appc.id);
  assert.deepEqual({ format: record.format, name: record.name, layers: record.layers, exec: record.run?.exec }, { format: 'appc', name: appc.name, layers: [appc.id], exec: ['/bin/app'] });
  assert.equal((await store.get(appc.id)).format, 'appc');
  assert.equal(store.layerDir(appc.id), join(stateDir, 'images', appc.id, 'rootfs'));

  const id = `sha256-${'cd'.repeat(32)}`;
  const layer = `sha256-${'01'.repeat(32)}`;
  assert.equal(store.layerDir(layer), join(stateDir, 'layers', layer, 'diff'));
  const ociRecord: ImageRecord = { id, format: 'oci', name: '127.0.0.1:5000/web', labels: [{ name: 'version', value: 'latest' }], annotations: {}, layers: [layer] };
  const oci = await store.commit(await ociWork(store, ociRecord), { ...info('127.0.0.1:5000/web', 'latest', '2026-01-02T00:00:00.000Z'), id, format: 'oci' });
  assert.deepEqual(await store.get(id.slice(0, 20)), oci, 'found by a sha256- prefix');
  assert.deepEqual(await store.record(id), ociRecord);

  // A damaged record.json: the image cannot run, so it is set aside like a damaged meta.json.
  await writeFile(join(store.imageDir(id), 'record.json'), JSON.stringify({ ...ociRecord, layers: ['../../etc'] }));
  await assert.rejects(store.record(id), { code: 'image.not-in-store' });
  assert.match(warnings.join('\n'), /image record of image sha256-cd.*layers are not a list of layer IDs.*moved aside/);
  assert.deepEqual((await store.list()).map((i) => i.id), [appc.id]);
});

/** A work directory as the OCI fetch will leave it: record.json, no manifest or rootfs. */
async function ociWork(store: ImageStore, record: ImageRecord): Promise<string> {
  const work = await store.newTempDir('oci');
  await writeFile(join(work, 'record.json'), JSON.stringify(record));
  return work;
}
