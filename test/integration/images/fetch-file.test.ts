import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFile, readlink, stat, lstat, copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Fetcher, type FetchProgress } from '../../../agent/host/images/fetch.js';
import type { Keystore } from '../../../agent/host/trust/keystore.js';
import { goodImage, writeAci, BUSYBOX, type AciCompression } from '../../lib/aci.js';
import { tmpdir } from '../../lib/tmpdir.js';
import { makeKeys, makeKeystore, makeStore, snapshot, suiteScope, type Keys } from './fixtures.js';

let keys: Keys;
let keystore: Keystore;
let dir: string;

const suite = suiteScope();

before(async () => {
  keys = await makeKeys(suite);
  keystore = await makeKeystore(suite, keys);
  dir = await tmpdir(suite, 'images-');
});

/** The image ID as the reference tools compute it: sha512sum of the uncompressed tar. */
function uncompressedSha512(file: string, compression: AciCompression): string {
  const cat = compression === 'tar' ? 'cat' : `${compression} -dc`;
  return execFileSync('sh', ['-c', `${cat} "$1" | sha512sum`, 'sh', file]).toString().split(' ')[0]!;
}

for (const compression of ['tar', 'gzip', 'bzip2', 'xz'] as const) {
  test(`a signed ${compression} image fetched by file path lands in the store, verified`, async (t) => {
    const file = await writeAci(join(dir, `app-${compression}.aci`), goodImage('example.com/app'), compression);
    await keys.gpg.sign(file, keys.app);
    const store = await makeStore(t);
    const progress: FetchProgress[] = [];
    const info = await new Fetcher({ store, keystore, onProgress: (p) => progress.push(p) }).fetch({ kind: 'file', path: file });

    assert.equal(info.id, `sha512-${uncompressedSha512(file, compression)}`);
    assert.equal(info.name, 'example.com/app');
    assert.equal(info.signer, keys.app.fingerprint);
    assert.deepEqual(await store.list(), [info]);
    assert.deepEqual(await store.get('example.com/app'), info);
    assert.deepEqual(await store.get(info.id.slice(0, 20)), info);

    const root = store.layerDir(info.id);
    assert.deepEqual(await readFile(join(root, 'bin/busybox')), await readFile(BUSYBOX));
    assert.equal((await stat(join(root, 'bin/busybox'))).mode & 0o7777, 0o755);
    assert.equal((await stat(join(root, 'tmp'))).mode & 0o7777, 0o1777);
    assert.equal(await readlink(join(root, 'bin/sh')), 'busybox');
    assert.equal(await readlink(join(root, 'usr/bin')), '/bin');
    assert.equal((await stat(join(root, 'etc/hostname'))).ino, (await stat(join(root, 'etc/hostname.link'))).ino);
    assert.equal((await lstat(join(root, 'etc'))).mtime.toISOString(), '2024-01-02T03:04:05.000Z');
    assert.equal(execFileSync(join(root, 'bin/busybox'), ['echo', 'runs']).toString(), 'runs\n');
    assert.ok(progress.some((p) => p.phase === 'verify') && progress.some((p) => p.phase === 'extract'));
    assert.ok(!(await snapshot(store.dir)).some((p) => p.startsWith('.tmp-')));
  });
}

test('fetching the same image twice keeps one copy', async (t) => {
  const file = await writeAci(join(dir, 'twice.aci'), goodImage('example.com/app'), 'gzip');
  await keys.gpg.sign(file, keys.app);
  const store = await makeStore(t);
  const fetcher = new Fetcher({ store, keystore });
  const first = await fetcher.fetch({ kind: 'file', path: file });
  const second = await fetcher.fetch({ kind: 'file', path: file });
  assert.deepEqual(second, first);
  assert.equal((await store.list()).length, 1);
});

test('an image without a signature is refused, or stored with a warning under --insecure-options=image', async (t) => {
  const file = await writeAci(join(dir, 'unsigned.aci'), goodImage('example.com/app'));
  const store = await makeStore(t);
  const before = await snapshot(store.dir);
  await assert.rejects(new Fetcher({ store, keystore }).fetch({ kind: 'file', path: file }), (e: any) => {
    assert.equal(e.code, 'image.signature-missing');
    assert.match(e.hint, /--insecure-options=image/);
    return true;
  });
  assert.deepEqual(await snapshot(store.dir), before);
  const warnings: string[] = [];
  const info = await new Fetcher({ store, keystore, insecureOptions: new Set(['image']), onWarning: (w) => warnings.push(w) }).fetch({ kind: 'file', path: file });
  assert.equal(info.signer, null);
  assert.match(warnings.join('\n'), /WITHOUT signature verification/);
});

test('a corrupt byte in the image fails verification and stores nothing', async (t) => {
  const file = await writeAci(join(dir, 'corrupt.aci'), goodImage('example.com/app'));
  await keys.gpg.sign(file, keys.app);
  const bad = join(dir, 'corrupt-bad.aci');
  await copyFile(file, bad);
  await copyFile(`${file}.asc`, `${bad}.asc`);
  const bytes = await readFile(bad);
  const at = Math.floor(bytes.length * 0.75);
  execFileSync('sh', ['-c', `printf '\\%03o' ${bytes[at]! ^ 0xff} | dd of=${bad} bs=1 seek=${at} conv=notrunc status=none`]);
  const store = await makeStore(t);
  const before = await snapshot(store.dir);
  await assert.rejects(new Fetcher({ store, keystore }).fetch({ kind: 'file', path: bad }), (e: any) => {
    assert.equal(e.code, 'trust.signature-invalid');
    assert.match(e.message, /does not match the image/);
    assert.match(e.hint, /fetch it again/);
    return true;
  });
  assert.deepEqual(await snapshot(store.dir), before);
});

test('owners (as root), setuid bits, read-only directories and their mtimes are kept', { skip: process.getuid?.() !== 0 && 'needs root' }, async (t) => {
  const when = new Date('2020-05-06T07:08:09Z');
  const file = await writeAci(join(dir, 'owners.aci'), goodImage('example.com/app', {}, [
    { name: 'rootfs/home', type: 'directory', uid: 1000, gid: 1001, mode: 0o555, mtime: when },
    { name: 'rootfs/home/user.txt', uid: 1000, gid: 1001, mode: 0o600, content: 'mine\n' },
    { name: 'rootfs/bin/su', mode: 0o4755, content: '#!/bin/sh\n' },
  ]));
  await keys.gpg.sign(file, keys.app);
  const store = await makeStore(t);
  const root = store.layerDir((await new Fetcher({ store, keystore }).fetch({ kind: 'file', path: file })).id);
  const home = await lstat(join(root, 'home'));
  assert.deepEqual([home.uid, home.gid, home.mode & 0o7777, home.mtime.toISOString()], [1000, 1001, 0o555, when.toISOString()]);
  const owned = await lstat(join(root, 'home/user.txt'));
  assert.deepEqual([owned.uid, owned.gid, owned.mode & 0o7777], [1000, 1001, 0o600]);
  assert.equal((await lstat(join(root, 'bin/su'))).mode & 0o7777, 0o4755);
});
