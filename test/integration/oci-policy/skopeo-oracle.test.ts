/**
 * The OCI trust decision against skopeo as the oracle: images built with umoci, pushed to a
 * real docker-registry on loopback and signed by skopeo (gpg keys) into a lookaside
 * directory served over http on loopback. For each case, checkImagePolicy accepts exactly
 * when `skopeo copy --policy P --registries.d D docker://… oci:…` accepts.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, normalize } from 'node:path';
import { promisify } from 'node:util';
import { isAgentError } from '../../../agent/core/errors.js';
import type { DockerReference } from '../../../agent/core/oci/reference.js';
import { checkImagePolicy } from '../../../agent/host/oci/policy-check.js';
import { makeGpg, type Gpg, type GpgKey } from '../../lib/gpg.js';
import { startRegistry, type Registry } from '../../lib/registry.js';
import { tmpdir } from '../../lib/tmpdir.js';
import { suiteScope } from '../images/fixtures.js';

const run = promisify(execFile);
const suite = suiteScope();

const MANIFEST_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

let gpg: Gpg;
let alice: GpgKey;
let mallory: GpgKey;
let registry: Registry;
let dir: string;
let look: string;
let regD: string;
let aliceKeyFile: string;
let malloryKeyFile: string;
let env: NodeJS.ProcessEnv;

/** A static file server on loopback for the lookaside directory; stopped with the suite. */
async function serveDirectory(root: string): Promise<string> {
  const server = createServer((req, res) => {
    const path = normalize(join(root, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)));
    if (!path.startsWith(root)) return void res.writeHead(403).end();
    stat(path).then(
      (s) => {
        if (!s.isFile()) return void res.writeHead(404).end();
        res.writeHead(200, { 'content-length': s.size });
        createReadStream(path).pipe(res);
      },
      () => void res.writeHead(404).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  suite.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const skopeo = (...args: string[]) => run('skopeo', args, { env, maxBuffer: 16 << 20 });

/** Pushes `oci:DIR:TAG` to `repo:tag` of the registry, signed by `signer` when given. */
async function push(tag: string, repoTag: string, signer?: GpgKey): Promise<void> {
  await skopeo(
    'copy', '--quiet', '--policy', join(dir, 'accept.json'), '--registries.d', regD, '--dest-tls-verify=false',
    ...(signer ? ['--sign-by', signer.fingerprint] : []),
    `oci:${join(dir, 'layout')}:${tag}`, `docker://${registry.host}/${repoTag}`,
  );
}

async function fetchManifest(ref: DockerReference): Promise<{ manifest: Uint8Array; digest: string }> {
  const res = await fetch(`${registry.url}/v2/${ref.repository}/manifests/${ref.tag}`, { headers: { accept: MANIFEST_TYPES } });
  assert.equal(res.status, 200);
  const manifest = new Uint8Array(await res.arrayBuffer());
  const { createHash } = await import('node:crypto');
  return { manifest, digest: `sha256:${createHash('sha256').update(manifest).digest('hex')}` };
}

/** The lookaside directory of a manifest (where skopeo put, or a test puts, its signatures). */
function sigDir(repository: string, digest: string): string {
  return join(look, `${repository}@${digest.replace(':', '=')}`);
}

/** Writes a signature made by `skopeo standalone-sign` for `identity` as signature-N of `repository:tag`. */
async function standaloneSign(repository: string, tag: string, identity: string, signer: GpgKey, n = 1): Promise<void> {
  const { manifest, digest } = await fetchManifest({ registry: registry.host, repository, tag });
  const manifestFile = join(dir, `${repository.replace(/\//g, '_')}.manifest`);
  await writeFile(manifestFile, manifest);
  await mkdir(sigDir(repository, digest), { recursive: true });
  await skopeo('standalone-sign', manifestFile, identity, signer.fingerprint, '-o', join(sigDir(repository, digest), `signature-${n}`));
}

before(async () => {
  dir = await tmpdir(suite, 'oci-policy-');
  gpg = await makeGpg(suite);
  env = { ...process.env, GNUPGHOME: gpg.home };
  [alice, mallory] = [await gpg.newKey('Alice <alice@example.com>'), await gpg.newKey('Mallory <mallory@example.com>')];
  aliceKeyFile = join(dir, 'alice.asc');
  await writeFile(aliceKeyFile, alice.armored);
  malloryKeyFile = join(dir, 'mallory.asc');
  await writeFile(malloryKeyFile, mallory.armored);
  registry = await startRegistry(suite);
  look = join(dir, 'look');
  await mkdir(look);
  const lookUrl = await serveDirectory(look);
  regD = join(dir, 'registries.d');
  await mkdir(regD);
  await writeFile(join(regD, 'default.yaml'), `default-docker:\n  lookaside: ${lookUrl}\n  lookaside-staging: file://${look}\n`);
  await writeFile(join(dir, 'accept.json'), JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));

  const layout = join(dir, 'layout');
  await run('umoci', ['init', '--layout', layout]);
  for (const tag of ['one', 'two', 'three', 'four', 'five', 'six', 'seven']) {
    await run('umoci', ['new', '--image', `${layout}:${tag}`]);
    await run('umoci', ['config', '--image', `${layout}:${tag}`, '--config.label', `case=${tag}`]);
  }
  await push('one', 'apps/signed:v1', alice);
  await push('one', 'apps/signed:other'); // the same manifest under another tag: the signature names :v1
  await push('two', 'apps/unsigned:v1');
  await push('three', 'apps/wrongkey:v1', mallory);
  await push('four', 'apps/tampered:v1', alice);
  const tampered = await fetchManifest({ registry: registry.host, repository: 'apps/tampered', tag: 'v1' });
  const sigFile = join(sigDir('apps/tampered', tampered.digest), 'signature-1');
  const bytes = await readFile(sigFile);
  bytes[bytes.length - 10] ^= 0x55;
  await writeFile(sigFile, bytes);
  await push('five', 'apps/mismatch:v1');
  await standaloneSign('apps/mismatch', 'v1', `${registry.host}/apps/somethingelse:v1`, alice);
  await push('six', 'mirror/app:v1');
  await standaloneSign('mirror/app', 'v1', 'example.com/app:v1', alice);
  await push('seven', 'apps/twosigs:v1');
  await standaloneSign('apps/twosigs', 'v1', `${registry.host}/apps/twosigs:v1`, mallory, 1);
  await standaloneSign('apps/twosigs', 'v1', `${registry.host}/apps/twosigs:v1`, alice, 2);
});

interface Case {
  name: string;
  repoTag: string;
  policy: (host: string) => unknown;
  expect: 'accept' | 'refuse';
  /** The AgentError code host-agent refuses with. */
  code?: string;
}

const signedBy = (identity?: unknown, keys: Record<string, unknown> = { keyPath: aliceKeyFile }) => ({
  type: 'signedBy', keyType: 'GPGKeys', ...keys, ...(identity !== undefined && { signedIdentity: identity }),
});
const scoped = (scope: string, reqs: unknown[]) => ({ default: [{ type: 'reject' }], transports: { docker: { [scope]: reqs } } });

const cases: Case[] = [
  { name: 'signed by the trusted key', repoTag: 'apps/signed:v1', policy: (h) => scoped(`${h}/apps`, [signedBy()]), expect: 'accept' },
  { name: 'keyData instead of keyPath', repoTag: 'apps/signed:v1', policy: (h) => scoped(h, [signedBy(undefined, { keyData: Buffer.from(alice.armored).toString('base64') })]), expect: 'accept' },
  { name: 'keyPaths with the trusted key second', repoTag: 'apps/signed:v1', policy: (h) => scoped(h, [signedBy(undefined, { keyPaths: [malloryKeyFile, aliceKeyFile] })]), expect: 'accept' },
  { name: 'two signatures, the second by the trusted key', repoTag: 'apps/twosigs:v1', policy: (h) => scoped(h, [signedBy()]), expect: 'accept' },
  { name: 'unsigned', repoTag: 'apps/unsigned:v1', policy: (h) => scoped(h, [signedBy()]), expect: 'refuse', code: 'image.untrusted' },
  { name: 'signed by another key', repoTag: 'apps/wrongkey:v1', policy: (h) => scoped(h, [signedBy()]), expect: 'refuse', code: 'image.untrusted' },
  { name: 'tampered signature', repoTag: 'apps/tampered:v1', policy: (h) => scoped(h, [signedBy()]), expect: 'refuse', code: 'image.untrusted' },
  { name: 'identity mismatch', repoTag: 'apps/mismatch:v1', policy: (h) => scoped(h, [signedBy()]), expect: 'refuse', code: 'image.untrusted' },
  { name: 'matchExact, fetched by another tag', repoTag: 'apps/signed:other', policy: (h) => scoped(h, [signedBy({ type: 'matchExact' })]), expect: 'refuse', code: 'image.untrusted' },
  { name: 'matchRepoDigestOrExact, fetched by another tag', repoTag: 'apps/signed:other', policy: (h) => scoped(h, [signedBy()]), expect: 'refuse', code: 'image.untrusted' },
  { name: 'matchRepository, fetched by another tag', repoTag: 'apps/signed:other', policy: (h) => scoped(h, [signedBy({ type: 'matchRepository' })]), expect: 'accept' },
  { name: 'exactReference names the signed identity', repoTag: 'mirror/app:v1', policy: (h) => scoped(`${h}/mirror/app`, [signedBy({ type: 'exactReference', dockerReference: 'example.com/app:v1' })]), expect: 'accept' },
  { name: 'exactReference names another tag', repoTag: 'mirror/app:v1', policy: (h) => scoped(h, [signedBy({ type: 'exactReference', dockerReference: 'example.com/app:v2' })]), expect: 'refuse', code: 'image.untrusted' },
  { name: 'exactRepository', repoTag: 'mirror/app:v1', policy: (h) => scoped(h, [signedBy({ type: 'exactRepository', dockerRepository: 'example.com/app' })]), expect: 'accept' },
  { name: 'remapIdentity through a mirror', repoTag: 'mirror/app:v1', policy: (h) => scoped(h, [signedBy({ type: 'remapIdentity', prefix: `${h}/mirror`, signedPrefix: 'example.com' })]), expect: 'accept' },
  { name: 'remapIdentity to another namespace', repoTag: 'mirror/app:v1', policy: (h) => scoped(h, [signedBy({ type: 'remapIdentity', prefix: `${h}/mirror`, signedPrefix: 'example.org' })]), expect: 'refuse', code: 'image.untrusted' },
  { name: 'mirror without remapping', repoTag: 'mirror/app:v1', policy: (h) => scoped(h, [signedBy()]), expect: 'refuse', code: 'image.untrusted' },
  { name: 'default reject', repoTag: 'apps/signed:v1', policy: () => ({ default: [{ type: 'reject' }] }), expect: 'refuse', code: 'image.rejected' },
  { name: 'insecureAcceptAnything', repoTag: 'apps/unsigned:v1', policy: () => ({ default: [{ type: 'insecureAcceptAnything' }] }), expect: 'accept' },
  { name: 'a more specific scope wins', repoTag: 'apps/signed:v1', policy: (h) => ({ default: [{ type: 'insecureAcceptAnything' }], transports: { docker: { [h]: [{ type: 'insecureAcceptAnything' }], [`${h}/apps/signed`]: [{ type: 'reject' }] } } }), expect: 'refuse', code: 'image.rejected' },
  { name: 'the full reference beats the repository', repoTag: 'apps/unsigned:v1', policy: (h) => ({ default: [{ type: 'reject' }], transports: { docker: { [`${h}/apps/unsigned`]: [{ type: 'reject' }], [`${h}/apps/unsigned:v1`]: [{ type: 'insecureAcceptAnything' }] } } }), expect: 'accept' },
  { name: 'the transport default "" before default', repoTag: 'apps/unsigned:v1', policy: () => ({ default: [{ type: 'insecureAcceptAnything' }], transports: { docker: { '': [{ type: 'reject' }] } } }), expect: 'refuse', code: 'image.rejected' },
  { name: 'every requirement must accept', repoTag: 'apps/signed:v1', policy: (h) => scoped(h, [signedBy(), { type: 'reject' }]), expect: 'refuse', code: 'image.rejected' },
  { name: 'unknown field in the policy', repoTag: 'apps/signed:v1', policy: (h) => scoped(h, [{ ...signedBy(), keyPaht: '/x' }]), expect: 'refuse', code: 'image.policy-invalid' },
  { name: 'unknown field in signedIdentity', repoTag: 'apps/signed:v1', policy: (h) => scoped(h, [signedBy({ type: 'matchExact', extra: 1 })]), expect: 'refuse', code: 'image.policy-invalid' },
];

for (const c of cases) {
  test(`skopeo oracle: ${c.name} → ${c.expect}`, async (t) => {
    const work = await tmpdir(t, 'oci-case-');
    const policyFile = join(work, 'policy.json');
    await writeFile(policyFile, JSON.stringify(c.policy(registry.host)));
    const [repository, tag] = c.repoTag.split(':') as [string, string];
    const ref: DockerReference = { registry: registry.host, repository, tag };

    const oracle = await skopeo(
      'copy', '--quiet', '--policy', policyFile, '--registries.d', regD, '--src-tls-verify=false', '--remove-signatures',
      `docker://${registry.host}/${c.repoTag}`, `oci:${join(work, 'out')}:x`,
    ).then(() => 'accept', (e: { stderr?: string }) => ({ refuse: e.stderr ?? '' }));
    const oracleVerdict = oracle === 'accept' ? 'accept' : 'refuse';
    assert.equal(oracleVerdict, c.expect, `skopeo: ${JSON.stringify(oracle)}`);

    const { manifest, digest } = await fetchManifest(ref);
    const ours = await checkImagePolicy({ ref, manifest, digest, policyFile, registriesDir: regD }).then(
      (d) => ({ verdict: 'accept' as const, d }),
      (e: unknown) => ({ verdict: 'refuse' as const, e }),
    );
    if (ours.verdict === 'refuse' && !isAgentError(ours.e)) throw ours.e;
    assert.equal(ours.verdict, oracleVerdict, ours.verdict === 'refuse' ? String((ours.e as Error).message) : 'accepted');
    if (ours.verdict === 'refuse') {
      assert.ok(isAgentError(ours.e, c.code), `${(ours.e as { code: string }).code}: ${(ours.e as Error).message}`);
      if (c.code !== 'image.policy-invalid') assert.match((ours.e as Error).message, new RegExp(`${repository}.*${registry.host.replace(/\./g, '\\.')}`));
    } else if (JSON.stringify(c.policy(registry.host)).includes('signedBy')) {
      assert.deepEqual(ours.d.signers, [alice.fingerprint]);
    }
  });
}

test('fetched by digest: matchRepoDigestOrExact accepts a signature naming a tag of the repository, matchExact does not', async (t) => {
  const { digest } = await fetchManifest({ registry: registry.host, repository: 'apps/signed', tag: 'v1' });
  for (const [identity, expected] of [[undefined, 'accept'], [{ type: 'matchExact' }, 'refuse']] as const) {
    const work = await tmpdir(t, 'oci-case-');
    const policyFile = join(work, 'policy.json');
    await writeFile(policyFile, JSON.stringify(scoped(registry.host, [signedBy(identity)])));
    const oracle = await skopeo('copy', '--quiet', '--policy', policyFile, '--registries.d', regD, '--src-tls-verify=false', '--remove-signatures',
      `docker://${registry.host}/apps/signed@${digest}`, `oci:${join(work, 'out')}:x`).then(() => 'accept', () => 'refuse');
    const ref: DockerReference = { registry: registry.host, repository: 'apps/signed', digest };
    const res = await fetch(`${registry.url}/v2/apps/signed/manifests/${digest}`, { headers: { accept: MANIFEST_TYPES } });
    const manifest = new Uint8Array(await res.arrayBuffer());
    const ours = await checkImagePolicy({ ref, manifest, digest, policyFile, registriesDir: regD }).then(() => 'accept', () => 'refuse');
    assert.deepEqual([oracle, ours], [expected, expected], JSON.stringify(identity));
  }
});

test('no policy file: refused unless insecure', async (t) => {
  const work = await tmpdir(t, 'oci-case-');
  const ref: DockerReference = { registry: registry.host, repository: 'apps/unsigned', tag: 'v1' };
  const { manifest, digest } = await fetchManifest(ref);
  const policyFile = join(work, 'missing.json');
  await assert.rejects(checkImagePolicy({ ref, manifest, digest, policyFile, registriesDir: regD }), (e) => isAgentError(e, 'image.no-policy'));
  assert.deepEqual(await checkImagePolicy({ ref, manifest, digest, policyFile, registriesDir: regD, insecure: true }), { scope: 'insecure', signers: [] });
});

test('signManifest: skopeo standalone-verify accepts the signature, and so does the policy check', async (t) => {
  const work = await tmpdir(t, 'oci-case-');
  const openpgp = await import('openpgp');
  const { privateKey, publicKey } = await openpgp.generateKey({ type: 'ecc', curve: 'ed25519Legacy', userIDs: [{ name: 'Signer', email: 'signer@example.com' }], format: 'object' });
  assert.equal(privateKey.keyPacket.version, 4);
  const fingerprint = privateKey.getFingerprint().toLowerCase();
  const keyFile = join(work, 'signer.asc');
  await writeFile(keyFile, publicKey.armor());
  await run('gpg', ['--batch', '--quiet', '--import', keyFile], { env });

  const ref: DockerReference = { registry: registry.host, repository: 'apps/unsigned', tag: 'v1' };
  const { manifest, digest } = await fetchManifest(ref);
  const { signManifest } = await import('../../../agent/host/oci/simple-signing.js');
  const signature = await signManifest(manifest, `${registry.host}/apps/unsigned:v1`, privateKey);
  const manifestFile = join(work, 'manifest.json');
  const sigFile = join(work, 'signature');
  await writeFile(manifestFile, manifest);
  await writeFile(sigFile, signature);
  const { stdout } = await skopeo('standalone-verify', manifestFile, `${registry.host}/apps/unsigned:v1`, fingerprint.toUpperCase(), sigFile);
  assert.match(stdout, /Signature verified/);
  await assert.rejects(skopeo('standalone-verify', manifestFile, `${registry.host}/apps/unsigned:v2`, fingerprint.toUpperCase(), sigFile));

  // Served from a lookaside directory of its own, the signature satisfies a signedBy rule.
  const ownLook = join(work, 'look');
  const ownRegD = join(work, 'registries.d');
  await mkdir(join(ownLook, `apps/unsigned@${digest.replace(':', '=')}`), { recursive: true });
  await writeFile(join(ownLook, `apps/unsigned@${digest.replace(':', '=')}`, 'signature-1'), signature);
  await mkdir(ownRegD);
  await writeFile(join(ownRegD, 'a.yaml'), `docker:\n  ${registry.host}/apps:\n    lookaside: file://${ownLook}\n`);
  const policyFile = join(work, 'policy.json');
  await writeFile(policyFile, JSON.stringify(scoped(registry.host, [signedBy(undefined, { keyPath: keyFile })])));
  assert.deepEqual(await checkImagePolicy({ ref, manifest, digest, policyFile, registriesDir: ownRegD }), {
    scope: `transports.docker[${JSON.stringify(registry.host)}]`,
    signers: [fingerprint],
  });
  await skopeo('copy', '--quiet', '--policy', policyFile, '--registries.d', ownRegD, '--src-tls-verify=false', '--remove-signatures', `docker://${registry.host}/apps/unsigned:v1`, `oci:${join(work, 'out')}:x`);
});

test('agentctl trust set writes a policy that skopeo and host-agent apply alike; trust show lists it beside the appc keys', async (t) => {
  const work = await tmpdir(t, 'oci-case-');
  const policyFile = join(work, 'etc', 'policy.json');
  const { runCli } = await import('../../../agent/cli/run.js');
  const { captureIo } = await import('../../lib/cli-io.js');
  const agentctl = async (...argv: string[]) => {
    const io = captureIo();
    const code = await runCli([...argv, '--policy', policyFile, '--trust-dir', join(work, 'tk'), '--system-trust-dir', join(work, 'stk')], io);
    return { code, out: io.out(), err: io.err() };
  };
  let r = await agentctl('trust', 'set', '--type', 'signedBy', '--pubkeysfile', aliceKeyFile, `${registry.host}/apps`);
  assert.equal(r.code, 0, r.err);
  r = await agentctl('trust', 'set', '--type', 'accept', `${registry.host}/apps/unsigned:v1`);
  assert.equal(r.code, 0, r.err);
  r = await agentctl('trust', 'set', '--type', 'signedBy', 'quay.io/bad:scope:x');
  assert.equal(r.code, 2);
  assert.match(r.err, /signedBy needs at least one key|not a registry scope/);
  r = await agentctl('trust', 'set', '--type', 'reject', '--pubkeysfile', aliceKeyFile, 'default');
  assert.equal(r.code, 2);

  const written = JSON.parse(await readFile(policyFile, 'utf8')) as { default: unknown; transports: { docker: Record<string, { keyPath?: string }[]> } };
  assert.deepEqual(written.default, [{ type: 'reject' }], 'a new policy refuses by default');
  const keyPath = written.transports.docker[`${registry.host}/apps`]![0]!.keyPath!;
  assert.equal(keyPath, join(work, 'etc', 'policy-keys', `${alice.fingerprint}.gpg`));
  assert.equal(await readFile(keyPath, 'utf8'), alice.armored);

  for (const [repoTag, expected] of [['apps/signed:v1', 'accept'], ['apps/wrongkey:v1', 'refuse'], ['apps/unsigned:v1', 'accept'], ['mirror/app:v1', 'refuse']] as const) {
    const [repository, tag] = repoTag.split(':') as [string, string];
    const ref: DockerReference = { registry: registry.host, repository, tag };
    const oracle = await skopeo('copy', '--quiet', '--policy', policyFile, '--registries.d', regD, '--src-tls-verify=false', '--remove-signatures',
      `docker://${registry.host}/${repoTag}`, `oci:${join(work, 'out')}:${tag}`).then(() => 'accept', () => 'refuse');
    const { manifest, digest } = await fetchManifest(ref);
    const ours = await checkImagePolicy({ ref, manifest, digest, policyFile, registriesDir: regD }).then(() => 'accept', () => 'refuse');
    assert.deepEqual([repoTag, oracle, ours], [repoTag, expected, expected]);
  }

  r = await agentctl('trust', 'show');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, new RegExp(`docker\\s+${registry.host.replace(/\./g, '\\.')}/apps\\s+signedBy ${keyPath.replace(/[./]/g, '\\$&')}`));
  assert.match(r.out, /\(all\)\s+default\s+reject/);
  assert.match(r.out, /appc images \(trusted keys\):\nNo trusted keys/);
  r = await agentctl('trust', 'show', '--json');
  const shown = JSON.parse(r.out) as { policy: { rules: { scope: string }[] }; appc: unknown[] };
  assert.deepEqual(shown.policy.rules.map((x) => x.scope), ['default', `${registry.host}/apps`, `${registry.host}/apps/unsigned:v1`]);
  assert.deepEqual(shown.appc, []);
});
