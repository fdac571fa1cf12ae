/**
 * The OCI layer store against hostile and faulty input: traversal, an escaping symlink, a
 * whiteout that escapes, a device node, a decompression bomb, a diff ID or digest that does
 * not match, zstd bytes: each refused with nothing left in the store. Two imports of one
 * layer at once do the work once; a stored layer is not read again; open removes the
 * leftovers of a crash and sets aside a layer whose record is damaged; removeUnused keeps
 * the layers in use.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { DEFAULT_EXTRACT_LIMITS } from '../../../agent/host/images/extract.js';
import { LayerStore, layerIdOf, type ImportOptions, type LayerInfo } from '../../../agent/host/oci/layer-store.js';
import { tarEntry } from '../../lib/bombs.js';
import { tmpdir } from '../../lib/tmpdir.js';
import { makeLayer, type Layer, type LayerEntry } from './layers.js';

const limits = { ...DEFAULT_EXTRACT_LIMITS, maxBytes: 1 << 30 };
const options = (layer: Layer, more: Partial<ImportOptions> = {}): ImportOptions => ({ compression: 'gzip', diffId: layer.diffId, digest: layer.digest, limits, ...more });

async function openStore(t: { after(fn: () => unknown): void }): Promise<{ store: LayerStore; stateDir: string }> {
  const stateDir = await tmpdir(t);
  const store = await LayerStore.open({ stateDir, warn: () => undefined });
  t.after(() => store.close());
  return { store, stateDir };
}

/** The store holds no layer and no work in progress. */
async function assertEmpty(store: LayerStore): Promise<void> {
  assert.deepEqual((await readdir(store.dir)).filter((n) => n !== '.lock'), []);
}

test('hostile layers are refused and leave nothing in the store', async (t) => {
  const { store } = await openStore(t);
  const cases: Array<[string, LayerEntry[], RegExp]> = [
    ['traversal', [{ name: '../escaped', content: 'x' }], /climbs out of the image/],
    ['absolute name', [{ name: '/etc/passwd', content: 'x' }], /absolute path/],
    ['escaping symlink', [{ name: 'up', type: 'symlink', linkname: '../../..' }], /leads outside the image/],
    ['chain', [{ name: 'a', type: 'symlink', linkname: '/' }, { name: 'b', type: 'symlink', linkname: 'a/../..' }], /leads outside the image/],
    ['write through a symlink', [{ name: 'etc', type: 'symlink', linkname: '/tmp' }, { name: 'etc/x', content: 'x' }], /lies below the symlink etc/],
    ['whiteout of ..', [{ name: 'dir/', type: 'directory' }, { name: 'dir/.wh...', content: '' }], /whiteout of "\.\."/],
    ['whiteout below a symlink', [{ name: 'l', type: 'symlink', linkname: 'd' }, { name: 'l/.wh.x', content: '' }], /lies below the symlink l/],
    ['opaque marker below a symlink', [{ name: 'l', type: 'symlink', linkname: 'd' }, { name: 'l/.wh..wh..opq', content: '' }], /lies below the symlink l/],
    ['device node', [{ name: 'dev/', type: 'directory' }, { name: 'dev/sda', type: 'block-device', devmajor: 8, devminor: 0 }], /device node/],
    ['character device posing as a whiteout', [{ name: 'x', type: 'character-device', devmajor: 0, devminor: 0 }], /device node/],
    ['hardlink to a whiteout', [{ name: '.wh.x', content: '' }, { name: 'y', type: 'link', linkname: 'x' }], /hardlink to the whiteout x/],
    ['trusted xattr', [{ name: 'd/', type: 'directory', pax: { 'SCHILY.xattr.trusted.overlay.opaque': 'y' } }], /trusted\.overlay\.opaque/],
  ];
  for (const [what, entries, why] of cases) {
    const layer = await makeLayer(entries);
    await assert.rejects(store.importLayer(Readable.from([layer.gzip]), options(layer)), (e: any) => {
      assert.match(e.code, /^image\.(unsafe-archive|unsupported-xattr)$/, what);
      assert.match(e.message, why, what);
      assert.ok(e.hint, what);
      return true;
    }, what);
    await assertEmpty(store);
  }
});

test('a decompression bomb stops at the size limit', async (t) => {
  const { store } = await openStore(t);
  // 32 MiB of zeros in one file, 32 KiB of gzip; the limit is 4 MiB.
  const tar = Buffer.concat([tarEntry('zeros', Buffer.alloc(32 << 20)), Buffer.alloc(1024)]);
  const gzip = gzipSync(tar, { level: 9 });
  const layer: Layer = { tar, gzip, diffId: `sha256:${'0'.repeat(64)}`, digest: `sha256:${'0'.repeat(64)}` };
  await assert.rejects(store.importLayer(Readable.from([gzip]), options(layer, { limits: { ...limits, maxBytes: 4 << 20 } })), { code: 'image.too-large' });
  await assertEmpty(store);
});

test('a diff ID or digest that does not match is refused and nothing is kept; zstd is refused', async (t) => {
  const { store } = await openStore(t);
  const layer = await makeLayer([{ name: 'f', content: 'content\n' }]);
  const other = await makeLayer([{ name: 'f', content: 'other\n' }]);
  await assert.rejects(store.importLayer(Readable.from([other.gzip]), options(layer, { digest: other.digest })), (e: any) => {
    assert.equal(e.code, 'image.digest-mismatch');
    assert.match(e.message, new RegExp(`diff ID is ${other.diffId}, not ${layer.diffId}`));
    return true;
  });
  await assertEmpty(store);
  await assert.rejects(store.importLayer(Readable.from([other.gzip]), options(layer, { diffId: other.diffId })), (e: any) => {
    assert.equal(e.code, 'image.digest-mismatch');
    assert.match(e.message, new RegExp(`digest is ${other.digest}, not ${layer.digest}`));
    return true;
  });
  await assertEmpty(store);
  // Bytes after the end of the data: refused whether the decompressor or the digest notices.
  for (const trailing of [[layer.gzip, Buffer.from('trailing')], [layer.gzip, gzipSync(Buffer.alloc(1024))]]) {
    await assert.rejects(store.importLayer(Readable.from(trailing), options(layer)), (e: any) => /^image\.(digest-mismatch|corrupt-archive)$/.test(e.code));
    await assertEmpty(store);
  }
  await assertEmpty(store);
  const zstd = Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), Buffer.alloc(64)]);
  await assert.rejects(store.importLayer(Readable.from([zstd]), options(layer, { compression: 'none', digest: undefined })), (e: any) => {
    assert.equal(e.code, 'image.unsupported-compression');
    assert.match(e.hint, /gzip/);
    return true;
  });
  await assertEmpty(store);
  // Uncompressed, the tar's own digest is the diff ID.
  const info = await store.importLayer(Readable.from([layer.tar]), { compression: 'none', diffId: layer.diffId, digest: layer.diffId, limits });
  assert.equal(info.id, layerIdOf(layer.diffId));
  assert.equal(info.size, layer.tar.length);
  assert.deepEqual(await store.list(), [info]);
});

test('an import can be cancelled; nothing is kept', async (t) => {
  const { store } = await openStore(t);
  const layer = await makeLayer([{ name: 'f', content: 'x' }]);
  const slow = new PassThrough();
  slow.write(layer.gzip.subarray(0, 10));
  const controller = new AbortController();
  const importing = store.importLayer(slow, options(layer, { signal: controller.signal }));
  setTimeout(() => controller.abort(), 50);
  await assert.rejects(importing, { code: 'image.cancelled' });
  assert.ok(slow.destroyed);
  await assertEmpty(store);
});

test('two imports of one layer at once do the work once; a stored layer is not read again', async (t) => {
  const { store } = await openStore(t);
  const layer = await makeLayer([{ name: 'bin/', type: 'directory' }, { name: 'bin/tool', content: 'x'.repeat(100_000), mode: 0o755 }]);
  let opened = 0;
  const source = (): Readable => {
    opened++;
    return Readable.from([layer.gzip.subarray(0, 1000), layer.gzip.subarray(1000)]);
  };
  const [a, b, c] = await Promise.all([store.importLayer(source, options(layer)), store.importLayer(source, options(layer)), store.importLayer(source, options(layer))]);
  assert.equal(opened, 1);
  assert.deepEqual(a, b);
  assert.deepEqual(a, c);
  assert.equal(await store.has(a.id), true);
  assert.equal((await lstat(join(store.layerDir(a.id), 'bin/tool'))).mode & 0o7777, 0o755);
  const again = await store.importLayer(source, options(layer));
  assert.equal(opened, 1);
  assert.deepEqual(again, a);
  // A failed import does not stop the one waiting for it: it tries with its own source.
  const next = await makeLayer([{ name: 'g', content: 'y' }]);
  const [bad, good] = await Promise.allSettled([
    store.importLayer(Readable.from([Buffer.from('not gzip at all')]), options(next)),
    store.importLayer(Readable.from([next.gzip]), options(next)),
  ]);
  assert.equal(bad.status, 'rejected');
  assert.equal(good.status, 'fulfilled');
});

test('open removes the leftovers of a crash and sets aside layers whose record is damaged; removeUnused keeps the layers in use', async (t) => {
  const stateDir = await tmpdir(t);
  const warnings: string[] = [];
  let store = await LayerStore.open({ stateDir, warn: (m) => warnings.push(m) });
  const layers = await Promise.all([[{ name: 'a', content: 'a' }], [{ name: 'b', content: 'b' }], [{ name: 'c', content: 'c' }]].map((e) => makeLayer(e)));
  const infos: LayerInfo[] = [];
  for (const layer of layers) infos.push(await store.importLayer(Readable.from([layer.gzip]), options(layer)));
  await store.close();

  await mkdir(join(stateDir, 'layers/.tmp-import-crashed/diff'), { recursive: true });
  await writeFile(join(stateDir, 'layers', infos[1]!.id, 'meta.json'), '{"id": "truncated');
  store = await LayerStore.open({ stateDir, warn: (m) => warnings.push(m) });
  t.after(() => store.close());
  assert.equal(await store.has(infos[1]!.id), false);
  assert.match(warnings.join('\n'), /the record of layer sha256-[0-9a-f]+ is damaged: it does not parse as JSON.*; moved aside/);
  const names = await readdir(store.dir);
  assert.ok(!names.some((n) => n.startsWith('.tmp-')));
  assert.ok(names.some((n) => n.startsWith(`${infos[1]!.id}.corrupt-`)));

  assert.deepEqual(await store.removeUnused(new Set([infos[0]!.id])), [infos[2]!.id]);
  assert.deepEqual((await store.list()).map((l) => l.id), [infos[0]!.id]);
  assert.ok(!(await readdir(store.dir)).some((n) => n.startsWith('.tmp-')));
});
