import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Keystore } from '../../../agent/host/trust/keystore.js';
import { discoverKeys, fetchArmoredKey } from '../../../agent/host/trust/fetch-key.js';
import { verifyDetached } from '../../../agent/host/trust/verify.js';
import { makeGpg, type Gpg, type GpgKey } from '../../lib/gpg.js';
import { makeTestCa, startHttpsServer } from '../../lib/https.js';
import { tmpdir } from '../../lib/tmpdir.js';
import { suiteScope } from '../images/fixtures.js';

const suite = suiteScope();
let gpg: Gpg;
let alice: GpgKey;
let bob: GpgKey;

before(async () => {
  gpg = await makeGpg(suite);
  alice = await gpg.newKey('Alice <alice@example.com>');
  bob = await gpg.newKey('Bob <bob@example.com>');
});

async function keystore(t: { after(fn: () => unknown): void }): Promise<{ ks: Keystore; etc: string; usr: string }> {
  const dir = await tmpdir(t, 'keys-');
  const paths = { adminDir: join(dir, 'etc'), systemDir: join(dir, 'usr') };
  return { ks: new Keystore(paths), etc: paths.adminDir, usr: paths.systemDir };
}

test('trust needs exactly one of a prefix and root, and a sane prefix', async (t) => {
  const { ks } = await keystore(t);
  await assert.rejects(ks.add(alice.armored, {}), (e: any) => e.code === 'trust.scope-missing' && /--prefix PREFIX/.test(e.hint) && /--root/.test(e.hint));
  await assert.rejects(ks.add(alice.armored, { root: true, prefix: 'example.com' }), { code: 'trust.scope-ambiguous' });
  await assert.rejects(ks.add(alice.armored, { prefix: 'example.com/../etc' }), { code: 'trust.invalid-prefix' });
  await assert.rejects(ks.add(alice.armored, { prefix: 'Example.com' }), { code: 'trust.invalid-prefix' });
  await assert.rejects(ks.add('not a key', { root: true }), { code: 'trust.invalid-key' });
  await assert.rejects(ks.add(await gpg.exportSecret(alice), { root: true }), (e: any) => e.code === 'trust.secret-key' && /gpg --armor --export/.test(e.hint));
  assert.deepEqual(await ks.list(), []);
});

test('keys are stored per prefix and root under the admin dir, named by lowercase fingerprint', async (t) => {
  const { ks, etc } = await keystore(t);
  const added = await ks.add(alice.armored, { prefix: 'example.com/app' });
  assert.equal(added.path, join(etc, 'prefix.d/example.com/app', alice.fingerprint));
  assert.match(await readFile(added.path, 'utf8'), /^-----BEGIN PGP PUBLIC KEY BLOCK-----/);
  assert.equal((await stat(added.path)).mode & 0o777, 0o644);
  await ks.add(bob.armored, { root: true });
  const listed = await ks.list();
  assert.deepEqual(
    listed.map((k) => [k.fingerprint, k.prefix, k.source]),
    [[bob.fingerprint, undefined, 'admin'], [alice.fingerprint, 'example.com/app', 'admin']],
  );
  // Root keys trust every name; prefixes are plain string prefixes.
  assert.deepEqual((await ks.keysFor('example.com/apple')).map((k) => k.fingerprint).sort(), [alice.fingerprint, bob.fingerprint].sort());
  assert.deepEqual((await ks.keysFor('example.org/x')).map((k) => k.fingerprint), [bob.fingerprint]);
});

test('an empty admin file masks a system key; removing a system key masks it', async (t) => {
  const { ks, etc, usr } = await keystore(t);
  const systemPath = join(usr, 'prefix.d/example.com/os', alice.fingerprint);
  await mkdir(join(usr, 'prefix.d/example.com/os'), { recursive: true });
  await writeFile(systemPath, alice.armored);
  await mkdir(join(usr, 'root.d'), { recursive: true });
  await writeFile(join(usr, 'root.d', bob.fingerprint), bob.armored);
  assert.deepEqual((await ks.list()).map((k) => [k.prefix, k.source]), [[undefined, 'system'], ['example.com/os', 'system']]);

  await mkdir(join(etc, 'root.d'), { recursive: true });
  await writeFile(join(etc, 'root.d', bob.fingerprint), '');
  assert.deepEqual((await ks.list()).map((k) => k.fingerprint), [alice.fingerprint]);

  const changed = await ks.remove(alice.fingerprint.toUpperCase());
  assert.deepEqual(changed, [join(etc, 'prefix.d/example.com/os', alice.fingerprint)]);
  assert.equal((await stat(changed[0]!)).size, 0);
  assert.equal(await readFile(systemPath, 'utf8'), alice.armored, 'system files are never written');
  assert.deepEqual(await ks.list(), []);
  assert.deepEqual(await ks.keysFor('example.com/os'), []);
});

test('removing an admin key deletes its files; unknown or malformed fingerprints are errors', async (t) => {
  const { ks } = await keystore(t);
  const a = await ks.add(alice.armored, { prefix: 'example.com/a' });
  const b = await ks.add(alice.armored, { prefix: 'example.com/b' });
  assert.deepEqual((await ks.remove(alice.fingerprint)).sort(), [a.path, b.path].sort());
  assert.deepEqual(await ks.list(), []);
  await assert.rejects(ks.remove(alice.fingerprint), (e: any) => e.code === 'trust.key-not-found' && /agentctl trust list/.test(e.hint));
  await assert.rejects(ks.remove('abcd'), { code: 'trust.invalid-fingerprint' });
});

test('a detached signature made by gpg verifies with our openpgp code', async (t) => {
  const { ks } = await keystore(t);
  await ks.add(alice.armored, { prefix: 'example.com/app' });
  const dir = await tmpdir(t);
  const file = join(dir, 'data.bin');
  await writeFile(file, Buffer.alloc(3 << 20, 7));
  await gpg.sign(file, alice);
  const signature = await readFile(`${file}.asc`, 'utf8');
  const verified = await verifyDetached({ name: 'example.com/app', signature, data: createReadStream(file), trusted: await ks.keysFor('example.com/app') });
  assert.deepEqual(verified, { fingerprint: alice.fingerprint });

  await writeFile(file, Buffer.alloc(3 << 20, 8));
  await assert.rejects(
    verifyDetached({ name: 'example.com/app', signature, data: createReadStream(file), trusted: await ks.keysFor('example.com/app') }),
    { code: 'trust.signature-invalid' },
  );
  await assert.rejects(verifyDetached({ name: 'example.com/app', signature: 'garbage', data: createReadStream(file), trusted: [] }), {
    code: 'trust.signature-unreadable',
  });
  // Other signed things (the update engine's release.json) reuse the check with their own words.
  await assert.rejects(
    verifyDetached({ name: 'release.json', signature, data: createReadStream(file), trusted: [], what: 'release', trustHint: 'Add the key to the update keyring' }),
    (e: any) => e.code === 'trust.key-untrusted' && /^release release\.json is signed by key /.test(e.message) && e.hint === 'Add the key to the update keyring',
  );
});

test('a key is fetched from an https URL (ac-discovery-pubkeys) with its fingerprint', async (t) => {
  const root = await tmpdir(t, 'www-');
  await writeFile(join(root, 'pubkeys.gpg'), alice.armored);
  const server = await startHttpsServer(t, root, await makeTestCa(t));
  const key = await fetchArmoredKey(`${server.url}/pubkeys.gpg`, { ca: server.ca });
  assert.equal(key.fingerprint, alice.fingerprint);
  assert.deepEqual(key.userIds, ['Alice <alice@example.com>']);
  await assert.rejects(fetchArmoredKey(`${server.url}/missing.gpg`, { ca: server.ca }), { code: 'image.not-found' });
});

test('keys for an image name are discovered through ac-discovery-pubkeys', async (t) => {
  const root = await tmpdir(t, 'www-');
  await writeFile(join(root, 'alice.gpg'), alice.armored);
  const server = await startHttpsServer(t, root, await makeTestCa(t, ['example.com']));
  server.pages.set('/app', `<meta name="ac-discovery-pubkeys" content="example.com/app https://example.com:${server.port}/alice.gpg">`);
  const http = { ca: server.ca, connectTo: server.connectTo(['example.com']), discoveryPort: server.port };
  const keys = await discoverKeys({ name: 'example.com/app/sub', labels: {} }, http);
  assert.deepEqual(keys.map((k) => [k.fingerprint, k.url]), [[alice.fingerprint, `https://example.com:${server.port}/alice.gpg`]]);
  assert.deepEqual(server.requests.slice(0, 2), ['/app/sub?ac-discovery=1', '/app?ac-discovery=1']);
  await assert.rejects(discoverKeys({ name: 'example.com/nothing', labels: {} }, http), { code: 'appc.discovery-failed' });
});
