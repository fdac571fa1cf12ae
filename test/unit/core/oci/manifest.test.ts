import { test } from 'node:test';
import assert from 'node:assert/strict';
import { layerCompression, layersToFetch, MANIFEST_ACCEPT, MEDIA_TYPES, parseImageConfig, parseManifest } from '../../../../agent/core/oci/manifest.js';
import { choosePlatform, nodePlatform } from '../../../../agent/core/oci/platform.js';
import { parseChallenges } from '../../../../agent/core/oci/challenge.js';

const d = (c: string) => `sha256:${c.repeat(64)}`;
const desc = (mediaType: string, c: string, extra = {}) => ({ mediaType, digest: d(c), size: 10, ...extra });
const S = 'docker://r.example/app:1';

function rejects(fn: () => unknown, code: string, message: RegExp): void {
  assert.throws(fn, (e: { code: string; message: string; subject: string }) => {
    assert.equal(e.code, code);
    assert.match(e.message, message);
    assert.equal(e.subject, S);
    return true;
  });
}

test('Accept lists the OCI index and manifest and Docker\'s list and v2s2', () => {
  assert.deepEqual([...MANIFEST_ACCEPT].sort(), [
    'application/vnd.docker.distribution.manifest.list.v2+json',
    'application/vnd.docker.distribution.manifest.v2+json',
    'application/vnd.oci.image.index.v1+json',
    'application/vnd.oci.image.manifest.v1+json',
  ]);
});

test('manifests and indexes: kind from mediaType, else Content-Type, else shape; fields checked by name', () => {
  const manifest = { schemaVersion: 2, mediaType: MEDIA_TYPES.ociManifest, config: desc(MEDIA_TYPES.ociConfig, 'a'), layers: [desc(MEDIA_TYPES.ociLayerGzip, 'b')] };
  const m = parseManifest(JSON.stringify(manifest), undefined, S);
  assert.equal(m.kind, 'manifest');
  const { mediaType: _, ...bare } = manifest;
  assert.equal(parseManifest(JSON.stringify(bare), MEDIA_TYPES.dockerManifest, S).mediaType, MEDIA_TYPES.dockerManifest);
  assert.equal(parseManifest(JSON.stringify(bare), undefined, S).kind, 'manifest');
  const index = { schemaVersion: 2, manifests: [desc(MEDIA_TYPES.ociManifest, 'c', { platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } })] };
  const i = parseManifest(JSON.stringify(index), `${MEDIA_TYPES.dockerManifestList}; charset=utf-8`, S);
  assert.equal(i.kind, 'index');
  assert.deepEqual(i.kind === 'index' && i.manifests[0]?.platform, { os: 'linux', architecture: 'arm64', variant: 'v8' });

  rejects(() => parseManifest('{', undefined, S), 'image.bad-manifest', /not valid JSON/);
  rejects(() => parseManifest('[]', undefined, S), 'image.bad-manifest', /not a JSON object/);
  rejects(() => parseManifest(JSON.stringify({ ...manifest, schemaVersion: 1 }), undefined, S), 'image.bad-manifest', /schemaVersion: 1 is not supported/);
  rejects(() => parseManifest(JSON.stringify({ ...manifest, layers: [{ ...desc(MEDIA_TYPES.ociLayer, 'b'), digest: 'sha256:x' }] }), undefined, S), 'image.bad-manifest', /^layers\[0\]\.digest: "sha256:x" is not/);
  rejects(() => parseManifest(JSON.stringify({ ...manifest, layers: [{ ...desc(MEDIA_TYPES.ociLayer, 'b'), size: -1 }] }), undefined, S), 'image.bad-manifest', /^layers\[0\]\.size: must be a non-negative integer/);
  rejects(() => parseManifest(JSON.stringify({ ...manifest, config: undefined }), undefined, S), 'image.bad-manifest', /^config: missing/);
  rejects(() => parseManifest(JSON.stringify({ ...index, manifests: [{ ...index.manifests[0], platform: { os: 'linux' } }] }), MEDIA_TYPES.ociIndex, S), 'image.bad-manifest', /^manifests\[0\]\.platform\.architecture: missing/);
  rejects(() => parseManifest(JSON.stringify({ ...manifest, mediaType: 'text/plain' }), undefined, S), 'image.bad-manifest', /^mediaType: "text\/plain" is not an image index or manifest type/);
  rejects(() => parseManifest(JSON.stringify({ ...manifest, config: desc('application/vnd.cncf.helm.config.v1+json', 'a') }), undefined, S), 'image.not-a-container-image', /helm/);
});

test('image config: run settings, diff IDs, errors naming the field', () => {
  const config = {
    os: 'linux', architecture: 'arm', variant: 'v7',
    config: { Entrypoint: ['/e'], Cmd: ['c'], Env: ['A=1'], User: 'u:g', WorkingDir: '/w', ExposedPorts: { '80/tcp': {}, '53/udp': {}, '8080': {} }, Labels: { a: 'b' }, StopSignal: 'SIGTERM' },
    rootfs: { type: 'layers', diff_ids: [d('1')] },
    history: [{}],
  };
  assert.deepEqual(parseImageConfig(JSON.stringify(config), S), {
    os: 'linux', architecture: 'arm', variant: 'v7',
    config: { entrypoint: ['/e'], cmd: ['c'], env: ['A=1'], user: 'u:g', workingDir: '/w', exposedPorts: ['8080', '80/tcp', '53/udp'], labels: { a: 'b' } },
    diffIds: [d('1')],
  });
  assert.deepEqual(parseImageConfig(JSON.stringify({ ...config, config: null }), S).config, { env: [], exposedPorts: [], labels: {} });
  const broken = (patch: Record<string, unknown>) => () => parseImageConfig(JSON.stringify({ ...config, config: { ...config.config, ...patch } }), S);
  rejects(broken({ Env: ['A=1', 'B'] }), 'image.bad-manifest', /^config\.Env\[1\]: "B" is not NAME=value/);
  rejects(broken({ Cmd: 'sh' }), 'image.bad-manifest', /^config\.Cmd: must be a list of strings/);
  rejects(broken({ Entrypoint: ['/e', 1] }), 'image.bad-manifest', /^config\.Entrypoint\[1\]: must be a string/);
  rejects(broken({ ExposedPorts: { 'x/tcp': {} } }), 'image.bad-manifest', /^config\.ExposedPorts\.x\/tcp: is not PORT/);
  rejects(broken({ Labels: { a: 1 } }), 'image.bad-manifest', /^config\.Labels\.a: must be a string/);
  rejects(() => parseImageConfig(JSON.stringify({ ...config, rootfs: { type: 'layers', diff_ids: ['x'] } }), S), 'image.bad-manifest', /^rootfs\.diff_ids\[0\]: "x"/);
  rejects(() => parseImageConfig(JSON.stringify({ ...config, os: undefined }), S), 'image.bad-manifest', /^os: missing/);
});

test('layer compression from the media type; zstd refused; layers paired with diff IDs', () => {
  assert.equal(layerCompression(MEDIA_TYPES.ociLayer, S), 'none');
  assert.equal(layerCompression(MEDIA_TYPES.ociLayerGzip, S), 'gzip');
  assert.equal(layerCompression(MEDIA_TYPES.dockerLayerGzip, S), 'gzip');
  assert.equal(layerCompression(MEDIA_TYPES.dockerLayer, S), 'none');
  rejects(() => layerCompression(MEDIA_TYPES.ociLayerZstd, S), 'image.unsupported-compression', /zstd/);
  rejects(() => layerCompression('application/octet-stream', S), 'image.bad-manifest', /not a layer media type/);
  const manifest = { kind: 'manifest' as const, mediaType: MEDIA_TYPES.ociManifest, config: desc(MEDIA_TYPES.ociConfig, 'a'), layers: [desc(MEDIA_TYPES.ociLayerGzip, 'b')], annotations: {} };
  const config = { os: 'linux', architecture: 'amd64', config: { env: [], exposedPorts: [], labels: {} }, diffIds: [d('c')] };
  assert.deepEqual(layersToFetch(manifest, config, S), [{ descriptor: manifest.layers[0], compression: 'gzip', diffId: d('c') }]);
  rejects(() => layersToFetch(manifest, { ...config, diffIds: [] }, S), 'image.bad-manifest', /config lists 0 layers but the manifest has 1/);
});

test('platforms: Node arch → GOARCH; choice by os, architecture and variant; missing names what the index has', () => {
  assert.deepEqual(nodePlatform('x64'), { os: 'linux', architecture: 'amd64' });
  assert.deepEqual(nodePlatform('arm64'), { os: 'linux', architecture: 'arm64', variant: 'v8' });
  assert.deepEqual(nodePlatform('arm', '6'), { os: 'linux', architecture: 'arm', variant: 'v6' });
  const entries = [
    { n: 1, platform: { os: 'windows', architecture: 'amd64' } },
    { n: 2, platform: { os: 'linux', architecture: 'amd64', variant: 'v3' } },
    { n: 3, platform: { os: 'linux', architecture: 'amd64' } },
    { n: 4, platform: { os: 'linux', architecture: 'arm64' } },
    { n: 5, platform: { os: 'linux', architecture: 'arm', variant: 'v5' } },
    { n: 6, platform: { os: 'linux', architecture: 'arm', variant: 'v7' } },
    { n: 7 },
  ];
  assert.equal(choosePlatform(entries, nodePlatform('x64'), S).n, 3);
  assert.equal(choosePlatform(entries, nodePlatform('arm64'), S).n, 4, 'no variant is fine for arm64');
  assert.equal(choosePlatform(entries, nodePlatform('arm', 7), S).n, 6);
  assert.equal(choosePlatform(entries, nodePlatform('arm', 6), S).n, 5, 'armv6 takes v5, never v7');
  rejects(() => choosePlatform(entries.slice(0, 2), nodePlatform('x64'), S), 'image.platform-missing', /no manifest for linux\/amd64; it has windows\/amd64, linux\/amd64\/v3$/);
  rejects(() => choosePlatform([], nodePlatform('x64'), S), 'image.platform-missing', /it has no manifests/);
});

test('WWW-Authenticate challenges', () => {
  assert.deepEqual(parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"'), [
    { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/busybox:pull' } },
  ]);
  assert.deepEqual(parseChallenges('Basic realm="Registry Realm", Bearer realm=https://t.example/token, error="insufficient_scope"'), [
    { scheme: 'basic', params: { realm: 'Registry Realm' } },
    { scheme: 'bearer', params: { realm: 'https://t.example/token', error: 'insufficient_scope' } },
  ]);
  assert.deepEqual(parseChallenges(['Basic realm="a \\"q\\""']), [{ scheme: 'basic', params: { realm: 'a "q"' } }]);
  assert.deepEqual(parseChallenges(undefined), []);
});
