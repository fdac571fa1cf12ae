/**
 * ImageService.fetch of `docker://…` against a real docker-registry on loopback, with a real
 * policy.json, registries.d and lookaside signatures made by `skopeo copy --sign-by` (gpg):
 * a signed image is stored (record.json, meta.json with format oci, the signer, its layers in
 * the layer store); a second image sharing 3 of its 4 layers downloads one; an unsigned image
 * under a signedBy rule, and any image under the default reject, never has its config or a
 * layer downloaded (the registry's access log and the layer store show it); gc removes the
 * layers no image lists.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { isAgentError } from '../../../agent/core/errors.js';
import { ImageService } from '../../../agent/daemon/image-service.js';
import type { FetchProgress } from '../../../agent/host/images/fetch.js';
import { makeGpg, type GpgKey } from '../../lib/gpg.js';
import { writeOciLayout, busyboxLayer, type BuiltLayout } from '../../lib/oci-image.js';
import { startRegistry, type Registry } from '../../lib/registry.js';
import { tmpdir } from '../../lib/tmpdir.js';
import { suiteScope } from '../images/fixtures.js';

const run = promisify(execFile);
const suite = suiteScope();
const amd64 = { os: 'linux', architecture: 'amd64' };

let registry: Registry;
let dir: string;
let alice: GpgKey;
let env: NodeJS.ProcessEnv;
let policyFile: string;
let regD: string;
let layoutA: BuiltLayout;
let layoutB: BuiltLayout;

/** A layer of its own content, the same at each build (so two layouts share it). */
const data = (n: number) => [{ name: `data${n}`, content: `${n} `.repeat(64 * 1024) }];

async function push(tag: string, repoTag: string, signer?: GpgKey): Promise<void> {
  await run('skopeo', [
    'copy', '--quiet', '--insecure-policy', '--registries.d', regD, '--dest-tls-verify=false',
    ...(signer ? ['--sign-by', signer.fingerprint] : []),
    `oci:${join(dir, 'layout')}:${tag}`, `docker://${registry.host}/${repoTag}`,
  ], { env, timeout: 120_000 });
}

async function registryLog(): Promise<string> {
  return readFile(join(dirname(registry.storageDir), 'registry.log'), 'utf8');
}

async function openService(t: { after(fn: () => unknown): void }, stateDir?: string): Promise<ImageService> {
  const state = stateDir ?? await tmpdir(t, 'oci-state-');
  const service = await ImageService.open({
    stateDir: state,
    keystore: { adminDir: join(state, 'trust'), systemDir: join(state, 'trust-system') },
    policyFile, registriesDir: regD, registryAuthFile: join(state, 'auth.json'), platform: amd64,
    limits: { maxBytes: 1 << 30 },
  });
  t.after(() => service.close());
  return service;
}

before(async () => {
  dir = await tmpdir(suite, 'oci-pull-');
  const gpg = await makeGpg(suite);
  env = { ...process.env, GNUPGHOME: gpg.home };
  alice = await gpg.newKey('Alice <alice@example.com>');
  const aliceKey = join(dir, 'alice.asc');
  await writeFile(aliceKey, alice.armored);
  registry = await startRegistry(suite);
  const look = join(dir, 'look');
  await mkdir(look);
  regD = join(dir, 'registries.d');
  await mkdir(regD);
  await writeFile(join(regD, 'default.yaml'), `default-docker:\n  lookaside: file://${look}\n  lookaside-staging: file://${look}\n`);
  policyFile = join(dir, 'policy.json');
  await writeFile(policyFile, JSON.stringify({
    default: [{ type: 'reject' }],
    transports: {
      docker: {
        [`${registry.host}/team`]: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: aliceKey }],
        [`${registry.host}/team/app:also-2`]: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: aliceKey, signedIdentity: { type: 'matchRepository' } }],
      },
    },
  }));
  const shared = [{ entries: busyboxLayer() }, { entries: data(1) }, { entries: data(2), compression: 'none' as const }];
  const config = { Entrypoint: ['/bin/sh', '-c'], Cmd: ['echo hi'], Env: ['PATH=/bin'], User: '1000:1000', WorkingDir: '/srv' };
  layoutA = await writeOciLayout(join(dir, 'layout'), 'a', { layers: [...shared, { entries: data(3) }], config });
  layoutB = await writeOciLayout(join(dir, 'layout'), 'b', { layers: [...shared, { entries: data(4) }], config });
  await push('a', 'team/app:1', alice);
  await push('b', 'team/app:2', alice);
  await push('b', 'team/app:also-2'); // the same digest as team/app:2, whose signature names app:2
  await push('a', 'team/unsigned:1');
  await push('a', 'other/app:1', alice);
  await writeOciLayout(join(dir, 'layout'), 'arm', { layers: [{ entries: data(9) }], platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } });
  await push('arm', 'team/arm:1', alice);
});

test('a signed image is stored with its record, signer and layers; a second sharing 3 of 4 layers downloads one', async (t) => {
  const service = await openService(t);
  const progress: FetchProgress[] = [];
  const first = await service.fetch({ image: `docker://${registry.host}/team/app:1`, insecureOptions: [] }, (p) => progress.push(p));
  assert.equal(first.image.format, 'oci');
  assert.equal(first.image.name, `${registry.host}/team/app`);
  assert.equal(first.image.signer, alice.fingerprint);
  assert.deepEqual(new Set(progress.map((p) => p.layer)).size, 4, 'progress for each of the 4 layers');

  const detail = await service.get(`docker://${registry.host}/team/app:1`);
  assert.equal(detail.image.id, first.image.id);
  assert.equal(detail.record.reference, `docker://${registry.host}/team/app:1`);
  assert.equal(detail.record.digest, `sha256:${first.image.id.slice('sha256-'.length)}`);
  assert.deepEqual(detail.record.layers, layoutA.images[0]!.layers.map((l) => `sha256-${l.diffId.slice('sha256:'.length)}`));
  assert.deepEqual(detail.record.run, { exec: ['/bin/sh', '-c', 'echo hi'], environment: [['PATH', '/bin']], user: '1000', group: '1000', workingDirectory: '/srv', ports: [], isolators: [] });
  const meta = JSON.parse(await readFile(join(detail.dir, 'meta.json'), 'utf8')) as { format: string };
  assert.equal(meta.format, 'oci');
  const stateDir = dirname(dirname(detail.dir));
  assert.ok((await stat(join(stateDir, 'layers', detail.record.layers[0]!, 'diff', 'bin', 'busybox'))).isFile());

  progress.length = 0;
  const second = await service.fetch({ image: `docker://${registry.host}/team/app:2`, insecureOptions: [] }, (p) => progress.push(p));
  assert.notEqual(second.image.id, first.image.id);
  const fourth = layoutB.images[0]!.layers[3]!.digest.slice(0, 'sha256:'.length + 12);
  assert.deepEqual([...new Set(progress.map((p) => p.layer))], [fourth], 'only the layer the first image lacks is downloaded');
  assert.equal((await readdir(join(stateDir, 'layers'))).filter((n) => n.startsWith('sha256-')).length, 5);

  // Fetching the same tag again downloads nothing: the manifest digest names a stored image.
  progress.length = 0;
  assert.equal((await service.fetch({ image: `docker://${registry.host}/team/app:2`, insecureOptions: [] }, (p) => progress.push(p))).image.id, second.image.id);
  assert.equal(progress.length, 0);

  // Another tag naming the same digest: the same image, found by that tag too.
  const alias = await service.fetch({ image: `docker://${registry.host}/team/app:also-2`, insecureOptions: [] });
  assert.equal(alias.image.id, second.image.id);
  assert.equal((await service.get(`docker://${registry.host}/team/app:also-2`)).image.id, second.image.id);
  assert.equal((await service.get(`docker://${registry.host}/team/app:2`)).image.id, second.image.id);

  // gc: the second image removed, its own layer goes; the shared ones stay for the first.
  await service.remove(second.image.id);
  await service.gc({ graceSeconds: 0 });
  assert.equal((await readdir(join(stateDir, 'layers'))).filter((n) => n.startsWith('sha256-')).length, 0, 'no image held: every layer removed');
});

test('refused images (unsigned under signedBy, default reject) never have their config or a layer downloaded', async (t) => {
  const service = await openService(t);
  await assert.rejects(
    service.fetch({ image: `docker://${registry.host}/team/unsigned:1`, insecureOptions: [] }),
    (e) => isAgentError(e, 'image.untrusted') && /team\/unsigned/.test((e as Error).message) && /registry 127\.0\.0\.1/.test((e as Error).message),
  );
  await assert.rejects(
    service.fetch({ image: `docker://${registry.host}/other/app:1`, insecureOptions: [] }),
    (e) => isAgentError(e, 'image.rejected') && /agentctl trust set/.test((e as { hint?: string }).hint ?? ''),
  );
  // The access log: what this agent asked for, not skopeo's pushes (written a moment later).
  await new Promise((r) => setTimeout(r, 200));
  const ours = (await registryLog()).split('\n').filter((l) => l.startsWith('127.0.0.1 ') && !l.includes('"skopeo/'));
  assert.ok(ours.some((l) => l.includes('GET /v2/team/unsigned/manifests/1')), 'the access log shows the manifest request');
  assert.deepEqual(ours.filter((l) => /\/v2\/(team\/unsigned|other\/app)\/blobs\//.test(l)), [], 'no blob of a refused image was asked for');
  assert.equal((await service.list()).length, 0);
});

test('a single manifest for another platform is refused after the policy, before any layer: image.platform-missing names both', async (t) => {
  const service = await openService(t);
  await assert.rejects(
    service.fetch({ image: `docker://${registry.host}/team/arm:1`, insecureOptions: [] }),
    (e) => isAgentError(e, 'image.platform-missing') && /linux\/arm64\/v8, not for this host \(linux\/amd64\)/.test((e as Error).message),
  );
  await new Promise((r) => setTimeout(r, 200));
  const ours = (await registryLog()).split('\n').filter((l) => l.startsWith('127.0.0.1 ') && !l.includes('"skopeo/') && l.includes('/v2/team/arm/blobs/'));
  assert.equal(ours.length, 1, 'only the config was fetched');
});

test('without any policy file, --insecure-options=image accepts with a warning; without it the image is refused (image.no-policy)', async (t) => {
  const state = await tmpdir(t, 'oci-state-');
  const service = await ImageService.open({
    stateDir: state, keystore: { adminDir: join(state, 'trust'), systemDir: join(state, 'trust-system') },
    policyFile: join(state, 'no-policy.json'), registriesDir: regD, platform: amd64, limits: { maxBytes: 1 << 30 },
  });
  t.after(() => service.close());
  await assert.rejects(service.fetch({ image: `docker://${registry.host}/team/unsigned:1`, insecureOptions: [] }), (e) => isAgentError(e, 'image.no-policy'));
  const r = await service.fetch({ image: `docker://${registry.host}/team/unsigned:1`, insecureOptions: ['image'] });
  assert.equal(r.image.signer, null);
  assert.match(r.warnings.join('\n'), /accepted without verification/);
});

test('--insecure-options=image does not override a policy rule; a bad reference names the form', async (t) => {
  const service = await openService(t);
  await assert.rejects(service.fetch({ image: `docker://${registry.host}/other/app:1`, insecureOptions: ['image'] }), (e) => isAgentError(e, 'image.rejected'));
  await assert.rejects(service.fetch({ image: 'docker://127.0.0.1:1/Bad/Name', insecureOptions: [] }), (e) => isAgentError(e, 'image.bad-reference'));
});
