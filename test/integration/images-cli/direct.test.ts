/**
 * agentctl's image, fetch and trust verbs end to end with no agent running: agentctl
 * works directly on a store and key directories in temp dirs, against real gpg keys and
 * a real HTTPS server on loopback.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ImageRecord, ImageSummary } from '../../../agent/api/agent1.js';
import type { TrustedKeyJson } from '../../../agent/cli/verbs/trust.js';
import { imageManifest, maliciousImage, writeAci } from '../../lib/aci.js';
import { ImageStore } from '../../../agent/host/images/store.js';
import { agentctl } from '../../lib/agent.js';
import { makeImagesWorld, makePaths, NAME, type ImagesWorld } from './setup.js';

let world: ImagesWorld;
const cleanups: Array<() => unknown> = [];
const suite = { after: (fn: () => unknown) => cleanups.push(fn) };

before(async () => {
  world = await makeImagesWorld(suite);
});

after(async () => {
  for (const fn of cleanups.reverse()) await fn();
});

const ID = /^sha512-[0-9a-f]{128}$/;

test('image validate: manifests and archives, exit 0 valid, 1 invalid, 2 usage', async () => {
  const good = join(world.dir, 'manifest.json');
  await writeFile(good, imageManifest(NAME));
  let r = await agentctl(['image', 'validate', good], { env: world.env });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /valid ImageManifest of localhost\/app/);

  const bad = join(world.dir, 'bad.json');
  await writeFile(bad, '{"acKind": "ImageManifest", "acVersion": "0.8.11", "name": "Bad Name"}');
  r = await agentctl(['image', 'validate', bad], { env: world.env });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /bad\.json: name: ACIdentifier must contain only lower case/);
  assert.equal(r.stderr.trim().split('\n').length, 1, 'one line');

  const syntax = join(world.dir, 'syntax.json');
  await writeFile(syntax, '{"acKind": "ImageManifest",\n "name": }');
  r = await agentctl(['image', 'validate', syntax], { env: world.env });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /error at line 2, column/);

  r = await agentctl(['image', 'validate', world.signed], { env: world.env });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /valid image archive \(gzip\) of localhost\/app/);

  const dup = await writeAci(join(world.dir, 'dup.aci'), maliciousImage('duplicate-manifest', NAME), 'xz');
  r = await agentctl(['image', 'validate', dup], { env: world.env });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /duplicate file entry in archive: manifest/);

  r = await agentctl(['image', 'validate', join(world.dir, 'missing.aci')], { env: world.env });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /cannot read the file \(ENOENT\)/);

  r = await agentctl(['image', 'validate'], { env: world.env });
  assert.equal(r.code, 2);
});

test('trust: refuses without a scope, adds by file, lists, removes', async (t) => {
  const { env } = await makePaths(t, world.env);
  let r = await agentctl(['trust', world.appKeyFile], { env });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /refusing to trust a key without a scope\. Give --prefix PREFIX/);

  r = await agentctl(['trust', '--prefix', NAME, '--root', world.appKeyFile], { env });
  assert.equal(r.code, 2);

  r = await agentctl(['trust', '--prefix', NAME, world.appKeyFile], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`trusted key ${world.app.fingerprint.slice(0, 4).toUpperCase()} .*App Publisher`));

  r = await agentctl(['trust', '--root', world.strangerKeyFile], { env });
  assert.equal(r.code, 0, r.stderr);

  r = await agentctl(['trust', 'list', '--json'], { env });
  assert.equal(r.code, 0, r.stderr);
  const keys = JSON.parse(r.stdout) as TrustedKeyJson[];
  assert.deepEqual(keys.map((k) => [k.fingerprint, k.prefix]).sort(), [[world.app.fingerprint, NAME], [world.stranger.fingerprint, null]].sort());
  assert.deepEqual(keys.find((k) => k.prefix === NAME)!.userIds, ['App Publisher <app@localhost>']);

  r = await agentctl(['trust', 'list'], { env });
  assert.match(r.stdout, /FINGERPRINT +PREFIX +SOURCE +USER IDS/);
  assert.match(r.stdout, /\(root: every image\)/);

  r = await agentctl(['trust', 'rm', world.stranger.fingerprint.toUpperCase()], { env });
  assert.equal(r.code, 0, r.stderr);
  r = await agentctl(['trust', 'rm', world.stranger.fingerprint], { env });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /no trusted key has this fingerprint\. See the trusted keys with `agentctl trust list`/);

  r = await agentctl(['trust', '--prefix', NAME, join(world.dir, 'nope.asc')], { env });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /cannot read the key file \(ENOENT\)/);
});

test('trust rm masks a key wherever it is shipped (root.d, prefixes, any file name); afterwards a fetch it signed is refused', async (t) => {
  const { env } = await makePaths(t, world.env);
  const system = env.HOST_AGENT_SYSTEM_TRUST_DIR!;
  const fpr = world.app.fingerprint;
  // Shipped with the OS in root.d, under a prefix, and under a prefix with a file name that is not its fingerprint.
  const shipped = [join('root.d', fpr), join('prefix.d/localhost', fpr), join('prefix.d/localhost/app', 'c0ffee'.repeat(6) + 'c0ff')];
  for (const rel of shipped) {
    await mkdir(join(system, rel, '..'), { recursive: true });
    await writeFile(join(system, rel), world.app.armored);
  }
  let r = await agentctl(['trust', '--prefix', NAME, world.appKeyFile], { env });
  assert.equal(r.code, 0, r.stderr);
  r = await agentctl(['trust', 'list', '--json'], { env });
  assert.deepEqual([...new Set((JSON.parse(r.stdout) as TrustedKeyJson[]).map((k) => k.fingerprint))], [fpr], 'listed by the key inside, whatever the file name');
  r = await agentctl(['fetch', world.signed], { env });
  assert.equal(r.code, 0, r.stderr);

  r = await agentctl(['trust', 'rm', fpr], { env });
  assert.equal(r.code, 0, r.stderr);
  const admin = env.HOST_AGENT_TRUST_DIR!;
  assert.deepEqual(r.stdout.trim().split('\n').sort(), [join(admin, 'prefix.d', NAME, fpr), ...shipped.map((rel) => join(admin, rel))].sort());
  r = await agentctl(['trust', 'list', '--json'], { env });
  assert.deepEqual(JSON.parse(r.stdout), []);
  // The stored image was verified by the key: fetching it again verifies anew, and is refused.
  r = await agentctl(['fetch', world.signed], { env });
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stderr, /is signed by key .* which is not trusted for any image name/);
});

test('trust --prefix without a key discovers it, shows the fingerprint and needs --yes without a terminal', async (t) => {
  const { env, trustDir } = await makePaths(t, world.env);
  let r = await agentctl(['trust', '--prefix', NAME], { env });
  assert.equal(r.code, 1);
  const shown = world.app.fingerprint.toUpperCase().replace(/(.{4})(?=.)/g, '$1 ');
  assert.match(r.stderr, new RegExp(`fingerprint: ${shown}`));
  assert.match(r.stderr, /without confirmation\. Check the fingerprint with the publisher, then run again with --yes/);
  await assert.rejects(readdir(trustDir), 'nothing trusted');

  r = await agentctl(['trust', '--prefix', NAME, '--yes'], { env });
  assert.equal(r.code, 0, r.stderr);
  r = await agentctl(['trust', 'list', '--json'], { env });
  assert.deepEqual((JSON.parse(r.stdout) as TrustedKeyJson[]).map((k) => k.fingerprint), [world.app.fingerprint]);

  r = await agentctl(['trust', '--root'], { env });
  assert.equal(r.code, 2);
});

test('fetch by file, URL and name; list, inspect, cat-manifest, export, rm and gc', async (t) => {
  const { env, stateDir } = await makePaths(t, world.env);
  let r = await agentctl(['fetch', world.signed], { env });
  assert.equal(r.code, 1, 'no key trusted yet');
  assert.match(r.stderr, /not trusted for any image name.*agentctl trust --prefix NAME KEYFILE/);
  assert.equal(r.stderr.trim().split('\n').length, 1, 'one line');

  assert.equal((await agentctl(['trust', '--prefix', NAME, world.appKeyFile], { env })).code, 0);
  r = await agentctl(['fetch', world.signed], { env });
  assert.equal(r.code, 0, r.stderr);
  const id = r.stdout.trim();
  assert.match(id, ID);
  assert.equal(r.stderr, '', 'no progress bar without a terminal');

  r = await agentctl(['fetch', `${world.server.url}/app.aci`, 'localhost/app:1.0.0'], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n'), [id, id], 'the same image by URL and by discovery');
  assert.ok(world.server.requests.includes('/app?ac-discovery=1'));

  r = await agentctl(['image', 'list', '--json'], { env });
  const images = JSON.parse(r.stdout) as ImageSummary[];
  assert.equal(images.length, 1);
  assert.equal(images[0]!.id, id);
  assert.equal(images[0]!.signer, world.app.fingerprint);

  r = await agentctl(['image', 'list'], { env });
  assert.match(r.stdout, /^ID +FORMAT +NAME +VERSION +SIZE +IMPORTED +LAST USED +REFERENCE +DIGEST$/m);
  assert.match(r.stdout, new RegExp(`^${id.slice(0, 19)} +appc +localhost/app +1\\.0\\.0 +[\\d.]+ [KM]iB +\\d+s ago +never +- +-$`, 'm'));
  assert.equal(images[0]!.format, 'appc');

  r = await agentctl(['image', 'inspect', 'localhost/app:1.0.0'], { env });
  assert.equal(r.code, 0, r.stderr);
  const record = JSON.parse(r.stdout) as ImageRecord;
  assert.deepEqual({ id: record.id, format: record.format, name: record.name, layers: record.layers }, { id, format: 'appc', name: NAME, layers: [id] });
  assert.ok(record.run && record.run.exec.length > 0, 'the run config comes from app');

  r = await agentctl(['image', 'cat-manifest', 'localhost/app:1.0.0'], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.equal((JSON.parse(r.stdout) as { name: string }).name, NAME);

  const exported = join(world.dir, `export-${Date.now()}.aci`);
  r = await agentctl(['image', 'export', id.slice(0, 20), exported], { env });
  assert.equal(r.code, 0, r.stderr);
  r = await agentctl(['image', 'validate', exported], { env });
  assert.equal(r.code, 0, r.stderr);
  r = await agentctl(['image', 'export', id, exported], { env });
  assert.equal(r.code, 1, 'never overwrites');

  r = await agentctl(['image', 'rm', 'localhost/app:9.9.9'], { env });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /no such image in the store\. See the stored images with `agentctl image list`/);

  r = await agentctl(['image', 'gc'], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /nothing to remove/);
  r = await agentctl(['image', 'gc', '--grace', 'soon'], { env });
  assert.equal(r.code, 2);
  r = await agentctl(['image', 'gc', '--grace', '0'], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`removed ${id} \\(localhost/app\\)`));

  assert.equal((await agentctl(['fetch', world.signed], { env })).code, 0);
  r = await agentctl(['image', 'rm', NAME], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual((await readdir(join(stateDir, 'images'))).sort(), ['index.json']);
});

test('fetch refuses what is not verified, and says how to fix it', async (t) => {
  const { env } = await makePaths(t, world.env);
  assert.equal((await agentctl(['trust', '--prefix', 'localhost/other', world.appKeyFile], { env })).code, 0);
  let r = await agentctl(['fetch', world.signed], { env });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /trusted only for localhost\/other|localhost\/other/);

  assert.equal((await agentctl(['trust', '--prefix', NAME, world.appKeyFile], { env })).code, 0);
  r = await agentctl(['fetch', world.strangerSigned], { env });
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`${world.stranger.fingerprint.slice(0, 4).toUpperCase()}.*agentctl trust --prefix NAME KEYFILE`));

  r = await agentctl(['fetch', world.unsigned], { env });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /has no signature.*--insecure-options=image/);

  r = await agentctl(['fetch', '--insecure-options=image', world.unsigned], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /^agentctl: warning: .*WITHOUT signature verification/);

  r = await agentctl(['fetch', '--insecure-options=tls', world.signed], { env });
  assert.equal(r.code, 2);
  r = await agentctl(['fetch', `http://127.0.0.1:${world.server.port}/app.aci`], { env });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /refusing plain http.*--insecure-options=http/);
  r = await agentctl(['fetch'], { env });
  assert.equal(r.code, 2);
});

test('without the right to open the store: one line that says what to do', async (t) => {
  const { env, stateDir } = await makePaths(t, world.env);
  await mkdir(stateDir, { mode: 0o700 });
  const { NODE_EXTRA_CA_CERTS: _ca, ...plain } = env;
  const r = await agentctl(['image', 'list'], { env: plain, uid: 65534, gid: 65534 });
  assert.equal(r.code, 1);
  assert.equal(r.stderr, `agentctl: ${stateDir}/images: cannot open the image store (EACCES). Run as root, or give another state directory with --state-dir\n`);
});

test('a store another process holds: one line naming that process; the store works once it is let go', async (t) => {
  const { env, stateDir } = await makePaths(t, world.env);
  const held = await ImageStore.open({ stateDir });
  let r = await agentctl(['image', 'list'], { env });
  assert.equal(r.code, 1);
  assert.equal(r.stderr, `agentctl: ${stateDir}/images: the image store is in use by process ${process.pid}. agentd holds it while it runs (then agentctl goes through agentd); otherwise wait for that process to finish\n`);
  await held.close();
  r = await agentctl(['image', 'list'], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(await readdir(join(stateDir, 'images')), [], 'agentctl let go of it too');
});
