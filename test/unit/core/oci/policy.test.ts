import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isAgentError } from '../../../../agent/core/errors.js';
import { dockerNamespaces, parseDockerName } from '../../../../agent/core/oci/reference.js';
import { chooseRule, identityMatches, parsePolicy, type SignedIdentity } from '../../../../agent/core/oci/policy.js';
import { lookasideBase, mergeRegistriesD, signatureUrl } from '../../../../agent/core/oci/registries-d.js';

const signedBy = (extra: Record<string, unknown> = {}) => ({ type: 'signedBy', keyType: 'GPGKeys', keyPath: '/k', ...extra });
const policy = (p: unknown) => parsePolicy(JSON.stringify(p), '/etc/host-agent/policy.json');

function refusedAt(p: unknown, path: RegExp): void {
  assert.throws(() => policy(p), (e: unknown) => isAgentError(e, 'image.policy-invalid') && path.test((e as Error).message) && (e as { subject?: string }).subject === '/etc/host-agent/policy.json');
}

test('docker names are normalised as containers/image does', () => {
  assert.deepEqual(parseDockerName('busybox'), { registry: 'docker.io', repository: 'library/busybox' });
  assert.deepEqual(parseDockerName('index.docker.io/foo/bar:1'), { registry: 'docker.io', repository: 'foo/bar', tag: '1' });
  assert.deepEqual(parseDockerName('localhost:5000/a@sha256:' + 'ab'.repeat(32)), { registry: 'localhost:5000', repository: 'a', digest: 'sha256:' + 'ab'.repeat(32) });
  assert.equal(parseDockerName('quay.io/Upper/x'), undefined);
  assert.equal(parseDockerName('quay.io/x:bad tag'), undefined);
});

test('scopes: repository, namespaces, host with port, then wildcards without the port', () => {
  assert.deepEqual(dockerNamespaces({ registry: 'a.b.example.com:5000', repository: 'ns/repo' }), [
    'a.b.example.com:5000/ns/repo', 'a.b.example.com:5000/ns', 'a.b.example.com:5000', '*.b.example.com', '*.example.com', '*.com',
  ]);
});

test('policy: the most specific scope decides, then "", then default', () => {
  const p = policy({
    default: [{ type: 'reject' }],
    transports: {
      docker: {
        'quay.io/org/app:1': [{ type: 'insecureAcceptAnything' }],
        'quay.io/org': [signedBy()],
        '*.quay.io': [{ type: 'reject' }],
        '': [signedBy({ keyPath: '/other' })],
      },
      atomic: { x: [{ type: 'reject' }] },
    },
  });
  const scope = (registry: string, repository: string, tag = '2') => chooseRule(p, { registry, repository, tag }).scope;
  assert.equal(scope('quay.io', 'org/app', '1'), 'transports.docker["quay.io/org/app:1"]');
  assert.equal(scope('quay.io', 'org/app'), 'transports.docker["quay.io/org"]');
  assert.equal(scope('eu.quay.io', 'x'), 'transports.docker["*.quay.io"]');
  assert.equal(scope('docker.io', 'library/x'), 'transports.docker[""]');
  assert.equal(chooseRule(policy({ default: [{ type: 'reject' }] }), { registry: 'a', repository: 'b' }).scope, 'default');
});

test('policy: unknown or repeated fields anywhere fail the whole file, naming the path', () => {
  refusedAt({ default: [{ type: 'reject' }], extra: 1 }, /extra: unknown field/);
  refusedAt({ default: [{ type: 'reject', x: 1 }] }, /default\[0\]\.x: unknown field/);
  refusedAt({ default: [{ type: 'reject' }], transports: { docker: { 'q.io': [signedBy({ keyPaht: '/x' })] } } }, /transports\.docker\["q\.io"\]\[0\]\.keyPaht: unknown field/);
  refusedAt({ default: [signedBy({ signedIdentity: { type: 'matchExact', x: 1 } })] }, /default\[0\]\.signedIdentity\.x/);
  assert.throws(() => parsePolicy('{"default":[{"type":"reject"}],"default":[{"type":"insecureAcceptAnything"}]}', 'p'), /duplicate key/);
  refusedAt({ transports: {} }, /default: missing/);
  refusedAt({ default: [] }, /must not be empty/);
  refusedAt({ default: [{ type: 'signedBy', keyType: 'GPGKeys' }] }, /exactly one of keyPath, keyPaths and keyData/);
  refusedAt({ default: [signedBy({ keyData: 'AAAA' })] }, /exactly one/);
  refusedAt({ default: [{ type: 'signedBy', keyType: 'GPGKeys', keyData: '!!' }] }, /keyData: is not base64/);
  refusedAt({ default: [signedBy({ keyType: 'X509Certificates' })] }, /keyType/);
  refusedAt({ default: [signedBy({ signedIdentity: { type: 'exactReference', dockerReference: 'a.com/x' } })] }, /neither a tag nor a digest/);
  refusedAt({ default: [signedBy({ signedIdentity: { type: 'remapIdentity', prefix: 'a.com/x:1', signedPrefix: 'b.com' } })] }, /prefix/);
  refusedAt({ default: [{ type: 'whatever' }] }, /unknown requirement type/);
});

test('signedBy: defaults to matchRepoDigestOrExact; keyPaths and keyData parse', () => {
  const p = policy({ default: [signedBy({ keyPath: undefined, keyPaths: ['/a', '/b'] }), { type: 'signedBy', keyType: 'GPGKeys', keyData: 'AAAA' }] });
  assert.deepEqual(p.default[0], { type: 'signedBy', keyType: 'GPGKeys', keys: { paths: ['/a', '/b'] }, signedIdentity: { type: 'matchRepoDigestOrExact' } });
  assert.deepEqual(p.default[1], { type: 'signedBy', keyType: 'GPGKeys', keys: { data: 'AAAA' }, signedIdentity: { type: 'matchRepoDigestOrExact' } });
});

test('signedIdentity rules', () => {
  const digest = 'sha256:' + 'cd'.repeat(32);
  const tagged = { registry: 'quay.io', repository: 'org/app', tag: 'v1' };
  const byDigest = { registry: 'quay.io', repository: 'org/app', digest };
  const m = (identity: SignedIdentity, image: typeof tagged | typeof byDigest, signed: string) => identityMatches(identity, image, signed);
  assert.ok(m({ type: 'matchRepoDigestOrExact' }, tagged, 'quay.io/org/app:v1'));
  assert.ok(!m({ type: 'matchRepoDigestOrExact' }, tagged, 'quay.io/org/app:v2'));
  assert.ok(m({ type: 'matchRepoDigestOrExact' }, byDigest, 'quay.io/org/app:anything'));
  assert.ok(!m({ type: 'matchExact' }, byDigest, 'quay.io/org/app:v1'));
  assert.ok(m({ type: 'matchExact' }, byDigest, `quay.io/org/app@${digest}`));
  assert.ok(!m({ type: 'matchExact' }, tagged, 'quay.io/org/app'));
  assert.ok(m({ type: 'matchRepository' }, tagged, 'quay.io/org/app:other'));
  assert.ok(!m({ type: 'matchRepository' }, tagged, 'quay.io/org/other:v1'));
  assert.ok(m({ type: 'exactReference', dockerReference: 'docker.io/library/busybox:1' }, tagged, 'busybox:1'));
  assert.ok(m({ type: 'exactRepository', dockerRepository: 'busybox' }, tagged, 'docker.io/library/busybox:7'));
  const remap: SignedIdentity = { type: 'remapIdentity', prefix: 'quay.io/org', signedPrefix: 'example.com/upstream' };
  assert.ok(m(remap, tagged, 'example.com/upstream/app:v1'));
  assert.ok(!m(remap, tagged, 'example.com/upstream/app:v2'));
  assert.ok(!m({ ...remap, prefix: 'quay.io/or' }, tagged, 'example.com/upstream/app:v1'), 'a prefix matches whole components only');
  assert.ok(m({ ...remap, prefix: 'quay.io/or' }, tagged, 'quay.io/org/app:v1'), 'not remapped: the image itself');
  assert.ok(!m({ type: 'matchRepository' }, tagged, 'not a reference!'));
});

test('registries.d: most specific scope with a URL, then default-docker; one file per scope', () => {
  const config = mergeRegistriesD([
    { file: 'a.yaml', document: { 'default-docker': { lookaside: 'https://d/' }, docker: { 'quay.io': { sigstore: 'https://q' }, 'quay.io/org': { 'lookaside-staging': 'file:///stage' } } } },
    { file: 'b.yaml', document: { docker: { 'quay.io/org/app': { lookaside: 'https://app', 'lookaside-staging': 'file:///w' } } } },
  ]);
  const ref = (repository: string) => ({ registry: 'quay.io', repository, tag: 'v1' });
  assert.equal(lookasideBase(config, ref('org/app')), 'https://app');
  assert.equal(lookasideBase(config, ref('org/other')), 'https://q', 'a scope without a read URL falls through');
  assert.equal(lookasideBase(config, ref('org/other'), true), 'file:///stage');
  assert.equal(lookasideBase(config, { registry: 'ghcr.io', repository: 'x' }), 'https://d/');
  assert.equal(signatureUrl('https://d/', ref('org/app'), 'sha256:abc', 2), 'https://d/org/app@sha256=abc/signature-2');
  assert.throws(() => mergeRegistriesD([{ file: 'a.yaml', document: { docker: { x: {} } } }, { file: 'b.yaml', document: { docker: { x: {} } } }]),
    (e: unknown) => isAgentError(e, 'image.registries-d-invalid') && /already configured in a\.yaml/.test((e as Error).message));
});
