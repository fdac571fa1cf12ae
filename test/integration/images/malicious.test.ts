import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { access, lstat, readdir, readFile, truncate, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Fetcher, type FetchOptions } from '../../../agent/host/images/fetch.js';
import type { ImageStore } from '../../../agent/host/images/store.js';
import type { Keystore } from '../../../agent/host/trust/keystore.js';
import { goodImage, maliciousImage, writeAci, type AciCompression, type AciEntry, type MaliciousKind } from '../../lib/aci.js';
import type { GpgKey } from '../../lib/gpg.js';
import { tmpdir } from '../../lib/tmpdir.js';
import { makeKeys, makeKeystore, makeStore, snapshot, suiteScope, type Keys } from './fixtures.js';

const suite = suiteScope();
let keys: Keys;
let keystore: Keystore;
let dir: string;
let good: string;

before(async () => {
  keys = await makeKeys(suite);
  keystore = await makeKeystore(suite, keys);
  dir = await tmpdir(suite, 'images-');
  good = await signedImage(goodImage('example.com/app'));
});

let serial = 0;
async function signedImage(entries: AciEntry[], key: GpgKey = keys.app, compression: AciCompression = 'tar'): Promise<string> {
  const file = await writeAci(join(dir, `image-${serial++}.aci`), entries, compression);
  await keys.gpg.sign(file, key);
  return file;
}

/** Fetches `file` into a store holding one good image; the fetch must fail with `code` and leave the store as it was. */
async function refused(t: { after(fn: () => unknown): void }, file: string, code: string, options: Partial<FetchOptions> = {}): Promise<any> {
  const store: ImageStore = await makeStore(t);
  await new Fetcher({ store, keystore }).fetch({ kind: 'file', path: good });
  const before = await snapshot(store.dir);
  let error: any;
  await assert.rejects(new Fetcher({ store, keystore, ...options }).fetch({ kind: 'file', path: file }), (e: any) => {
    error = e;
    return true;
  });
  assert.equal(error.code, code, error.stack);
  assert.ok(error.hint, 'every error says what to do');
  assert.deepEqual(await snapshot(store.dir), before, 'the store is as it was');
  await assert.rejects(access(join(dirname(store.dir), 'escaped')));
  return error;
}

const unsafe: [MaliciousKind, string, RegExp][] = [
  ['path-traversal', 'image.unsafe-archive', /climbs out of the image/],
  ['absolute-path', 'image.unsafe-archive', /absolute path/],
  ['symlink-escape', 'image.unsafe-archive', /symlink to "\.\.\/\.\.\/.*outside the image/],
  ['symlink-parent', 'image.unsafe-archive', /lies below the symlink rootfs\/etcdir/],
  ['hardlink-escape', 'image.unsafe-archive', /climbs out of the image/],
  ['hardlink-absolute', 'image.unsafe-archive', /absolute path/],
  ['device-node', 'image.unsafe-archive', /device node/],
  ['duplicate-manifest', 'appc.invalid-layout', /duplicate file entry in archive: manifest/],
];

for (const [kind, code, message] of unsafe) {
  test(`a signed archive with ${kind} is refused and the store is unchanged`, async (t) => {
    const error = await refused(t, await signedImage(maliciousImage(kind, 'example.com/app')), code);
    assert.match(error.message, message);
  });
}

test('device nodes are created when allowed', { skip: process.getuid?.() !== 0 && 'needs root' }, async (t) => {
  const store = await makeStore(t);
  const info = await new Fetcher({ store, keystore, allowDevices: true }).fetch({
    kind: 'file',
    path: await signedImage([...goodImage('example.com/app'), { name: 'rootfs/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 }]),
  });
  const node = await lstat(join(store.layerDir(info.id), 'null'));
  assert.ok(node.isCharacterDevice());
  assert.equal(node.mode & 0o777, 0o666);
});

test('a signature by a key nobody trusts names the key and the command to trust it (the image is not opened to read its name)', async (t) => {
  const file = await signedImage(goodImage('example.com/app'), keys.stranger);
  const error = await refused(t, file, 'trust.key-untrusted');
  const shown = keys.stranger.fingerprint.toUpperCase().replace(/(.{4})(?=.)/g, '$1 ');
  assert.equal(error.message, `image ${file} is signed by key ${shown} which is not trusted for any image name`);
  assert.match(error.hint, /run `agentctl trust --prefix NAME KEYFILE`/);
});

test('a key trusted for another prefix does not trust this image', async (t) => {
  const error = await refused(t, await signedImage(goodImage('example.com/app'), keys.other), 'trust.key-untrusted');
  assert.match(error.message, /not trusted for example\.com\/app \(it is trusted only for example\.com\/other\)/);
});

test('a prefix is a plain string prefix: a key for example.com/app also trusts example.com/apple', async (t) => {
  const store = await makeStore(t);
  const info = await new Fetcher({ store, keystore }).fetch({ kind: 'file', path: await signedImage(goodImage('example.com/apple')) });
  assert.equal(info.signer, keys.app.fingerprint);
});

test('limits on entries and bytes stop decompression bombs', async (t) => {
  const file = await signedImage(goodImage('example.com/app', {}, [{ name: 'rootfs/big', content: { random: 3 << 20 } }]));
  const many = await refused(t, file, 'image.too-many-entries', { limits: { maxEntries: 5 } });
  assert.match(many.message, /more than 5 entries/);
  const big = await refused(t, file, 'image.too-large', { limits: { maxBytes: 4 << 20 } });
  assert.match(big.message, /more than 4194304 bytes/);
});

test('an archive that is not an image, and one without a manifest', async (t) => {
  await refused(t, await signedImage([{ name: 'rootfs', type: 'directory' }]), 'image.no-manifest');
  const text = join(dir, 'text.aci');
  await writeFile(text, 'hello\n');
  await keys.gpg.sign(text, keys.app);
  await refused(t, text, 'image.not-an-image');
});

/** Live (not zombie) decompressor processes whose parent is this test process. */
async function decompressorChildren(): Promise<string[]> {
  const found: string[] = [];
  for (const pid of (await readdir('/proc')).filter((n) => /^\d+$/.test(n))) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    const match = /^\d+ \((.*)\) (\S) (\d+)/.exec(stat);
    if (match && Number(match[3]) === process.pid && match[2] !== 'Z' && /^(xz|bzip2)$/.test(match[1]!)) found.push(`${pid} ${match[1]}`);
  }
  return found;
}

async function noDecompressorLeft(): Promise<void> {
  for (let i = 0; i < 50 && (await decompressorChildren()).length > 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(await decompressorChildren(), []);
}

for (const compression of ['xz', 'bzip2'] as const) {
  test(`an unsafe ${compression} archive is refused mid-stream and its decompressor is stopped`, async (t) => {
    const entries = [...goodImage('example.com/app', {}, [{ name: 'rootfs/noise', content: { random: 1 << 20 } }]), ...maliciousImage('symlink-escape', 'example.com/app').slice(2)];
    await refused(t, await signedImage(entries, keys.app, compression), 'image.unsafe-archive');
    await noDecompressorLeft();
  });

  test(`a damaged ${compression} stream is a corrupt archive, even unverified`, async (t) => {
    const file = await signedImage(goodImage('example.com/app', {}, [{ name: 'rootfs/noise', content: { random: 1 << 20 } }]), keys.app, compression);
    await truncate(file, Math.floor((await lstat(file)).size * 0.8));
    const error = await refused(t, file, 'image.corrupt-archive', { insecureOptions: new Set(['image']) });
    assert.match(error.message, new RegExp(`not valid ${compression} data`));
    await noDecompressorLeft();
  });
}
