/**
 * Layers imported by the layer store, stacked by a real overlay mount (`lowerdir=` top
 * first), give the tree `umoci unpack` makes from the same layers: names, types, modes,
 * owners, link targets, content and hardlink groups. The layers hold files, a deleted file
 * (`.wh.x`), an opaque directory (`.wh..wh..opq`), a replaced symlink, hardlinks, setuid
 * and setgid files. And a busybox payload runs with systemd-nspawn on such an overlay whose
 * layers have no /usr (the container's writable layer provides it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { lstat, mkdir, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { DEFAULT_EXTRACT_LIMITS } from '../../../agent/host/images/extract.js';
import { LayerStore } from '../../../agent/host/oci/layer-store.js';
import { layersHaveUsr, prepareLayer } from '../../../agent/host/containers/layer.js';
import { containerPaths } from '../../../agent/host/containers/paths.js';
import { tmpdir } from '../../lib/tmpdir.js';
import { makeLayer, writeOciLayout, type Layer } from './layers.js';

const run = promisify(execFile);
const limits = { ...DEFAULT_EXTRACT_LIMITS, maxBytes: 1 << 30 };

/** Every entry below `root`: type, mode, owner, link target or content hash; and which paths share an inode. */
async function describeTree(root: string): Promise<{ entries: Record<string, string>; hardlinks: string[][] }> {
  const entries: Record<string, string> = {};
  const inodes = new Map<number, string[]>();
  const walk = async (rel: string): Promise<void> => {
    for (const name of (await readdir(join(root, rel))).sort()) {
      const path = rel === '' ? name : `${rel}/${name}`;
      const st = await lstat(join(root, path));
      const owner = `${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}`;
      if (st.isDirectory()) {
        entries[path] = `dir ${owner}`;
        await walk(path);
      } else if (st.isSymbolicLink()) {
        entries[path] = `symlink -> ${await readlink(join(root, path))} ${st.uid}:${st.gid}`;
      } else if (st.isFile()) {
        entries[path] = `file ${owner} ${createHash('sha256').update(await readFile(join(root, path))).digest('hex').slice(0, 16)}`;
        if (st.nlink > 1) inodes.set(st.ino, [...(inodes.get(st.ino) ?? []), path]);
      } else {
        entries[path] = `other ${owner}`;
      }
    }
  };
  await walk('');
  // A group of one: a file whose other links are gone (overlayfs still counts them in nlink).
  return { entries, hardlinks: [...inodes.values()].filter((g) => g.length > 1).map((g) => g.sort()).sort() };
}

/** Mounts the overlay of `lower` (bottom first) at `merged` while `use` runs. */
async function withOverlay<T>(lower: string[], upper: string, work: string, merged: string, use: () => Promise<T>): Promise<T> {
  await mkdir(merged, { recursive: true });
  await run('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${[...lower].reverse().join(':')},upperdir=${upper},workdir=${work}`, merged]);
  try {
    return await use();
  } finally {
    await run('umount', [merged]);
  }
}

async function importAll(store: LayerStore, layers: Layer[]): Promise<string[]> {
  const dirs: string[] = [];
  for (const layer of layers) {
    const info = await store.importLayer(Readable.from([layer.gzip]), { compression: 'gzip', diffId: layer.diffId, digest: layer.digest, limits });
    dirs.push(store.layerDir(info.id));
  }
  return dirs;
}

test('the overlay of imported layers is the tree umoci unpacks from them', async (t) => {
  const dir = await tmpdir(t);
  const bottom = await makeLayer([
    { name: 'etc/', type: 'directory' },
    { name: 'etc/x', content: 'first\n' },
    { name: 'etc/x-hard', type: 'link', linkname: 'etc/x' },
    { name: 'etc/passwd', content: 'root:x:0:0::/root:/bin/sh\n' },
    { name: 'usr/', type: 'directory' },
    { name: 'usr/bin/', type: 'directory' },
    { name: 'usr/bin/su', content: 'setuid\n', mode: 0o4755 },
    { name: 'usr/bin/wall', content: 'setgid\n', mode: 0o2755, gid: 5 },
    { name: 'data/', type: 'directory', mode: 0o750, uid: 1000, gid: 1000 },
    { name: 'data/keep', content: 'keep\n', uid: 1000, gid: 1000 },
    { name: 'data/gone', content: 'deleted above\n' },
    { name: 'data/gone-dir/', type: 'directory' },
    { name: 'data/gone-dir/f', content: 'inside a deleted dir\n' },
    { name: 'opq/', type: 'directory' },
    { name: 'opq/old', content: 'hidden by the opaque dir\n' },
    { name: 'opq/sub/', type: 'directory' },
    { name: 'opq/sub/older', content: 'hidden too\n' },
    { name: 'link', type: 'symlink', linkname: 'etc/x' },
    { name: 'abs', type: 'symlink', linkname: '/usr/bin/su' },
  ]);
  const middle = await makeLayer([
    { name: 'etc/', type: 'directory' },
    { name: 'etc/x', content: 'second\n' },
    { name: 'data/', type: 'directory', mode: 0o750, uid: 1000, gid: 1000 },
    { name: 'data/.wh.gone', content: '' },
    { name: 'data/.wh.gone-dir', content: '' },
    { name: 'opq/', type: 'directory', mode: 0o700 },
    { name: 'opq/.wh..wh..opq', content: '' },
    { name: 'opq/new', content: 'only this\n' },
    { name: 'link', type: 'symlink', linkname: 'data/keep' },
    { name: 'srv/', type: 'directory' },
    { name: 'srv/a', content: 'same inode\n', mode: 0o600 },
    { name: 'srv/b', type: 'link', linkname: 'srv/a' },
  ]);
  const top = await makeLayer([
    { name: 'usr/', type: 'directory' },
    { name: 'usr/bin/', type: 'directory' },
    { name: 'usr/bin/.wh.wall', content: '' },
    { name: 'usr/bin/tool', content: 'new tool\n', mode: 0o755, uid: 2, gid: 2 },
    { name: 'data/', type: 'directory', mode: 0o750, uid: 1000, gid: 1000 },
    { name: 'data/gone', content: 'back again\n' },
    { name: '.wh.abs', content: '' },
    { name: 'abs/', type: 'directory', mode: 0o711 },
  ]);
  const layers = [bottom, middle, top];

  const store = await LayerStore.open({ stateDir: join(dir, 'state') });
  t.after(() => store.close());
  const lower = await importAll(store, layers);
  const paths = containerPaths(join(dir, 'state'), 'c');
  await prepareLayer(paths, lower);
  const ours = await withOverlay(lower, paths.upper, paths.work, paths.merged, () => describeTree(paths.merged));

  await writeOciLayout(join(dir, 'oci'), 'v1', layers);
  await run('umoci', ['unpack', '--image', `${join(dir, 'oci')}:v1`, join(dir, 'bundle')]);

  const umoci = await describeTree(join(dir, 'bundle/rootfs'));
  assert.deepEqual(ours, umoci);
  // The cases the layers were built for, spelled out.
  assert.equal(ours.entries['etc/x']?.split(' ')[3], createHash('sha256').update('second\n').digest('hex').slice(0, 16));
  assert.equal(ours.entries['data/gone-dir'], undefined);
  assert.deepEqual(Object.keys(ours.entries).filter((p) => p.startsWith('opq/')), ['opq/new']);
  assert.equal(ours.entries['link'], 'symlink -> data/keep 0:0');
  assert.equal(ours.entries['usr/bin/su'], `file 4755 0:0 ${createHash('sha256').update('setuid\n').digest('hex').slice(0, 16)}`);
  assert.equal(ours.entries['usr/bin/wall'], undefined);
  assert.equal(ours.entries['abs'], 'dir 711 0:0');
  assert.deepEqual(ours.hardlinks, [['srv/a', 'srv/b']]);
});

test('a busybox payload runs with systemd-nspawn on the overlay of layers without /usr', async (t) => {
  const dir = await tmpdir(t);
  const busybox = await makeLayer([
    { name: 'bin/', type: 'directory' },
    { name: 'bin/busybox', content: readFileSync('/bin/busybox'), mode: 0o755 },
  ]);
  const config = await makeLayer([
    { name: 'etc/', type: 'directory' },
    { name: 'etc/x', content: 'hello from the top layer\n' },
    { name: 'etc/os-release', content: 'ID=test\n' },
  ]);
  const store = await LayerStore.open({ stateDir: join(dir, 'state') });
  t.after(() => store.close());
  const lower = await importAll(store, [busybox, config]);
  assert.equal(await layersHaveUsr(lower), false);
  const paths = containerPaths(join(dir, 'state'), 'c');
  await prepareLayer(paths, lower);
  assert.ok((await lstat(join(paths.upper, 'usr'))).isDirectory());
  // In a private mount namespace with its own /run, as the sandbox's manager runs it (nspawn keeps state there).
  const nspawn = `mount -t tmpfs tmpfs /run && exec systemd-nspawn --quiet --register=no --keep-unit -D "$0" /bin/busybox cat /etc/x`;
  const { stdout } = await withOverlay(lower, paths.upper, paths.work, paths.merged, () =>
    run('unshare', ['-m', '--propagation', 'private', 'sh', '-c', nspawn, paths.merged], { timeout: 30_000 }));
  assert.equal(stdout.replace(/\r/g, ''), 'hello from the top layer\n');
});

test('the writable layer adds no /usr over layers that have one, and does over a whiteout of it', async (t) => {
  const dir = await tmpdir(t);
  const withUsr = await makeLayer([{ name: 'usr/', type: 'directory', mode: 0o700 }]);
  const deleting = await makeLayer([{ name: '.wh.usr', content: '' }]);
  const store = await LayerStore.open({ stateDir: join(dir, 'state') });
  t.after(() => store.close());
  const [usr, whiteout] = await importAll(store, [withUsr, deleting]);
  assert.equal(await layersHaveUsr([usr!]), true);
  const kept = containerPaths(join(dir, 'state'), 'kept');
  await prepareLayer(kept, [usr!]);
  await assert.rejects(lstat(join(kept.upper, 'usr')), { code: 'ENOENT' });
  assert.equal(await layersHaveUsr([usr!, whiteout!]), false);
  const added = containerPaths(join(dir, 'state'), 'added');
  await prepareLayer(added, [usr!, whiteout!]);
  assert.ok((await lstat(join(added.upper, 'usr'))).isDirectory());
});
