/**
 * Hostile archives (issue #12): decompression bombs whose signature no trusted key made are
 * refused before anything is decompressed, metadata bombs are refused with flat memory,
 * symlink chains are resolved as the kernel would inside the image root, and the unpacked-
 * size limit defaults to the store's free space.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdir, readFile, readlink, statfs, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { defaultMaxBytes, Fetcher, type FetchOptions, type FetchProgress } from '../../../agent/host/images/fetch.js';
import { ImageStore } from '../../../agent/host/images/store.js';
import { Keystore } from '../../../agent/host/trust/keystore.js';
import { goodImage, imageManifest, writeAci, type AciEntry } from '../../lib/aci.js';
import { tarHeader, writeXattrBomb, writeZeroBomb } from '../../lib/bombs.js';
import { tmpdir } from '../../lib/tmpdir.js';
import { makeKeys, makeStore, snapshot, suiteScope, type Keys } from './fixtures.js';

const run = promisify(execFile);

const suite = suiteScope();
let keys: Keys;
let keystore: Keystore;
let dir: string;
let bomb: string;
let keyDir: string;

before(async () => {
  keys = await makeKeys(suite);
  // As fixtures.makeKeystore, in a directory a child process can be given.
  keyDir = await tmpdir(suite, 'keys-');
  keystore = new Keystore({ adminDir: join(keyDir, 'etc'), systemDir: join(keyDir, 'usr') });
  await keystore.add(keys.app.armored, { prefix: 'example.com/app' });
  await keystore.add(keys.other.armored, { prefix: 'example.com/other' });
  dir = await tmpdir(suite, 'hostile-');
  bomb = join(dir, 'bomb.aci');
  await writeZeroBomb(bomb, 'example.com/app', 'gzip', 8e6); // 8 MB of gzip, 8 GiB of tar
  await import('openpgp'); // loaded once, not inside the first timed refusal
});

/** Fetches `file` with `asc` as its signature; resolves with the error, the time taken and the phases reported. */
async function refusal(t: { after(fn: () => unknown): void }, file: string, asc: string | ((file: string) => Promise<unknown>), options: Partial<FetchOptions> = {}) {
  if (typeof asc === 'string') await writeFile(`${file}.asc`, asc);
  else await asc(file);
  const store = await makeStore(t);
  const phases = new Set<FetchProgress['phase']>();
  const before = await snapshot(store.dir);
  const start = Date.now();
  let error: any;
  await assert.rejects(new Fetcher({ store, keystore, onProgress: (p) => phases.add(p.phase), ...options }).fetch({ kind: 'file', path: file }), (e: any) => {
    error = e;
    return true;
  });
  const ms = Date.now() - start;
  assert.deepEqual(await snapshot(store.dir), before, 'the store is as it was');
  assert.ok(error.hint, 'every error says what to do');
  return { error, ms, phases };
}

// Fully decompressing the 8 GiB takes ~10 s here; verifying 8 MB takes well under a second.
const QUICK_MS = 4000;

test('a gzip bomb with a garbage .asc is refused at once, without decompressing', async (t) => {
  const { error, ms, phases } = await refusal(t, bomb, '-----BEGIN PGP SIGNATURE-----\n\nZ2FyYmFnZQ==\n-----END PGP SIGNATURE-----\n');
  assert.equal(error.code, 'trust.signature-unreadable', error.stack);
  assert.ok(ms < QUICK_MS, `refused in ${ms} ms`);
  assert.ok(!phases.has('extract'), 'nothing was extracted');
});

test('a gzip bomb signed by a key nobody trusts is refused at once, naming the key', async (t) => {
  const { error, ms } = await refusal(t, bomb, (f) => keys.gpg.sign(f, keys.stranger));
  assert.equal(error.code, 'trust.key-untrusted', error.stack);
  const shown = keys.stranger.fingerprint.toUpperCase().replace(/(.{4})(?=.)/g, '$1 ');
  assert.equal(error.message, `image ${bomb} is signed by key ${shown} which is not trusted for any image name`);
  assert.match(error.hint, /agentctl trust --prefix NAME KEYFILE/);
  assert.ok(ms < QUICK_MS, `refused in ${ms} ms`);
});

test('a gzip bomb with a trusted key\'s signature over other bytes is refused after reading it once', async (t) => {
  const other = await writeAci(join(dir, 'other.aci'), goodImage('example.com/app'));
  await keys.gpg.sign(other, keys.app);
  const { error, ms, phases } = await refusal(t, bomb, await readFile(`${other}.asc`, 'utf8'));
  assert.equal(error.code, 'trust.signature-invalid', error.stack);
  assert.ok(ms < QUICK_MS, `refused in ${ms} ms`);
  assert.deepEqual([...phases], ['verify'], 'the bytes were read to verify them, and nothing else');
});

test('the signature is checked before any decompression: a broken gzip by a stranger is a trust error', async (t) => {
  // Decompressing this would fail with image.corrupt-archive.
  const broken = join(dir, 'broken.aci');
  await writeFile(broken, Buffer.concat([gzipSync(tarHeader('rootfs/', 0, 'directory')).subarray(0, 20), Buffer.alloc(4096, 0xa5)]));
  const { error } = await refusal(t, broken, (f) => keys.gpg.sign(f, keys.stranger));
  assert.equal(error.code, 'trust.key-untrusted');
});

test('a key trusted for another prefix: verified, then the manifest\'s name is not covered by it', async (t) => {
  const file = await writeAci(join(dir, 'elsewhere.aci'), goodImage('example.com/app'));
  const { error } = await refusal(t, file, (f) => keys.gpg.sign(f, keys.other));
  assert.equal(error.code, 'trust.key-untrusted');
  assert.match(error.message, /^image example\.com\/app is signed by key .* which is not trusted for example\.com\/app \(it is trusted only for example\.com\/other\)$/);
});

test('--insecure-options=image still stores an unsigned image, with its warning', async (t) => {
  const file = await writeAci(join(dir, 'unsigned.aci'), goodImage('example.com/app'));
  const warnings: string[] = [];
  const info = await new Fetcher({ store: await makeStore(t), keystore, insecureOptions: new Set(['image']), onWarning: (w) => warnings.push(w) }).fetch({ kind: 'file', path: file });
  assert.equal(info.signer, null);
  assert.match(warnings.join('\n'), /WITHOUT signature verification/);
});

/** Fetches `file` in a child whose heap is capped at `heapMb`; resolves with its exit code and stderr. */
function fetchInSmallHeap(file: string, stateDir: string, heapMb: number): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [`--max-old-space-size=${heapMb}`, '--import', 'tsx', join(import.meta.dirname, 'fetch-child.ts'), file, stateDir, keyDir, 'none'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stderr })));
}

test('a signed xattr bomb (PAX records of 3.9 MiB) is refused with a clear error in a 128 MB heap', async (t) => {
  const file = join(await tmpdir(t, 'xbomb-'), 'xattr-bomb.aci');
  await writeXattrBomb(file, 'example.com/app', 300, Math.floor(3.9 * 2 ** 20));
  await keys.gpg.sign(file, keys.app);
  const { code, stderr } = await fetchInSmallHeap(file, await tmpdir(t, 'state-'), 128);
  assert.equal(code, 1, stderr);
  assert.match(stderr, /image\.metadata-too-large/);
  assert.match(stderr, /archive entry "rootfs\/f0" carries \d+ bytes of metadata \(PAX records and names\), more than the 262144 an entry may have/);
});

test('many extended attributes within Linux\'s bounds are refused once they pass the per-image total', async (t) => {
  const file = join(await tmpdir(t, 'xbomb-'), 'xattr-many.aci');
  await writeXattrBomb(file, 'example.com/app', 300, 60 * 1024); // 300 × 60 KiB = 17.6 MiB > 16 MiB
  await keys.gpg.sign(file, keys.app);
  const { error } = await refusal(t, file, async () => undefined);
  assert.equal(error.code, 'image.metadata-too-large', error.stack);
  assert.match(error.message, /more than 16777216 bytes of extended attributes \(at "rootfs\/f\d+"\)/);
});

test('an xattr value larger than Linux allows is refused, naming the entry', async (t) => {
  const file = join(await tmpdir(t, 'xbomb-'), 'xattr-one.aci');
  await writeXattrBomb(file, 'example.com/app', 1, 100 * 1024);
  await keys.gpg.sign(file, keys.app);
  const { error } = await refusal(t, file, async () => undefined);
  assert.equal(error.code, 'image.metadata-too-large');
  assert.match(error.message, /archive entry "rootfs\/f0" has an extended attribute of 9 \+ 102400 bytes, more than Linux allows/);
});

test('a PAX header over tar-stream\'s 4 MiB is refused as metadata, not as a corrupt archive', async (t) => {
  const file = join(await tmpdir(t, 'xbomb-'), 'xattr-huge.aci');
  await writeXattrBomb(file, 'example.com/app', 1, 5 << 20);
  await keys.gpg.sign(file, keys.app);
  const { error } = await refusal(t, file, async () => undefined);
  assert.equal(error.code, 'image.metadata-too-large');
});

test('metadata counts in the unpacked size, and the hint names the setting', async (t) => {
  const file = join(await tmpdir(t, 'xbomb-'), 'xattr-size.aci');
  await writeXattrBomb(file, 'example.com/app', 40, 50 * 1024); // ~2 MB of metadata, no content
  await keys.gpg.sign(file, keys.app);
  const { error } = await refusal(t, file, async () => undefined, { limits: { maxBytes: 1 << 20 } });
  assert.equal(error.code, 'image.too-large');
  assert.match(error.message, /more than 1048576 bytes/);
  assert.match(error.hint, /--max-image-size/);
});

test('the default unpacked-size limit is the store\'s free space less a reserve', async (t) => {
  const store = await makeStore(t);
  const fs = await statfs(store.dir);
  const reserve = Math.min(2 ** 30, Math.floor(fs.blocks * fs.bsize * 0.05));
  const limit = await defaultMaxBytes(store.dir);
  assert.ok(Math.abs(fs.bavail * fs.bsize - reserve - limit) < 64 << 20, `limit ${limit}, reserve ${reserve}`);
});

test('an image larger than the free space of the store is refused, naming the setting', { skip: process.getuid?.() !== 0 && 'needs root to mount a small tmpfs' }, async (t) => {
  const stateDir = await tmpdir(t, 'small-');
  await mkdir(join(stateDir, 'images'));
  const file = await writeAci(join(dir, 'ten.aci'), goodImage('example.com/app', {}, [{ name: 'rootfs/ten', content: { random: 10 << 20 } }]), 'gzip');
  await keys.gpg.sign(file, keys.app);
  await run('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', join(stateDir, 'images')]);
  try {
    const store = await ImageStore.open({ stateDir });
    try {
      await assert.rejects(new Fetcher({ store, keystore }).fetch({ kind: 'file', path: file }), (e: any) => {
        assert.equal(e.code, 'image.too-large', e.stack);
        assert.match(e.message, /the archive unpacks to more than \d+ bytes \(at "rootfs\/ten"\)/);
        assert.match(e.hint, /agentd's --max-image-size \(default: the image store's free space less a reserve\)/);
        return true;
      });
    } finally {
      await store.close();
    }
  } finally {
    await run('umount', [join(stateDir, 'images')]);
  }
});
/** A signed image named example.com/app with `extra` entries after a small rootfs. */
async function withEntries(extra: AciEntry[]): Promise<string> {
  const file = await writeAci(join(dir, `links-${serial++}.aci`), [
    { name: 'manifest', content: imageManifest('example.com/app') },
    { name: 'rootfs', type: 'directory' },
    { name: 'rootfs/etc', type: 'directory' },
    { name: 'rootfs/etc/passwd', content: 'root:x:0:0::/root:/bin/sh\n' },
    ...extra,
  ]);
  await keys.gpg.sign(file, keys.app);
  return file;
}
let serial = 0;

const link = (name: string, linkname: string): AciEntry => ({ name: `rootfs/${name}`, type: 'symlink', linkname });

test('a -> /, b -> a/etc/passwd: resolved inside the image root, as the container sees it, and kept', async (t) => {
  const store = await makeStore(t);
  const info = await new Fetcher({ store, keystore }).fetch({ kind: 'file', path: await withEntries([link('a', '/'), link('b', 'a/etc/passwd')]) });
  assert.equal(await readlink(join(store.layerDir(info.id), 'b')), 'a/etc/passwd');
});

const escapes: [string, AciEntry[], RegExp][] = [
  ['.. above the root through a link to / (a -> /, b -> a/../etc)', [link('a', '/'), link('b', 'a/../etc')], /"rootfs\/b" is a symlink to "a\/\.\.\/etc", which leads outside the image/],
  ['.. after a link that leads to the root (d/e/l -> ../.., m -> d/e/l/..)', [{ name: 'rootfs/d/e', type: 'directory' }, link('d/e/l', '../..'), link('m', 'd/e/l/..')], /"rootfs\/m" is a symlink to "d\/e\/l\/\.\.", which leads outside the image/],
  ['a chain made longer by a later link (m -> l/.., then l -> /)', [link('m', 'l/..'), link('l', '/')], /"rootfs\/m" is a symlink to "l\/\.\.", which leads outside the image/],
  ['a loop (x -> y, y -> x)', [link('x', 'y'), link('y', 'x')], /is a symlink to "[xy]", which does not resolve \(more than 40 links\)/],
  ['a file below a link to / (a -> /, a/etc/x)', [link('a', '/'), { name: 'rootfs/a/etc/x', content: 'x' }], /"rootfs\/a\/etc\/x" lies below the symlink rootfs\/a/],
  ['a directory below a link to / (a -> /, a/newdir/)', [link('a', '/'), { name: 'rootfs/a/newdir', type: 'directory' }], /lies below the symlink rootfs\/a/],
  ['a hardlink through a link to / (a -> /, h => a/etc/passwd)', [link('a', '/'), { name: 'rootfs/h', type: 'link', linkname: 'rootfs/a/etc/passwd' }], /lies below the symlink rootfs\/a/],
];

for (const [what, extra, message] of escapes) {
  test(`symlinks: ${what} is refused and nothing is stored`, async (t) => {
    const { error } = await refusal(t, await withEntries(extra), async () => undefined);
    assert.equal(error.code, 'image.unsafe-archive', error.stack);
    assert.match(error.message, message);
  });
}
