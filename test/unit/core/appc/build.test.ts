import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildManifest, defaultBaseUrl, parseExec, publishPlan, sortedNames } from '../../../../agent/core/appc/build.js';
import { discoverEndpoints } from '../../../../agent/core/appc/discovery.js';
import { isAgentError } from '../../../../agent/core/errors.js';

const req = { name: 'example.com/tools/hello', version: '1.2.0', os: 'linux', arch: 'amd64' };

test('parseExec takes words or a JSON array', () => {
  assert.deepEqual(parseExec(' /bin/httpd  -f -p 8080 '), ['/bin/httpd', '-f', '-p', '8080']);
  assert.deepEqual(parseExec('["/bin/sh", "-c", "echo a b"]'), ['/bin/sh', '-c', 'echo a b']);
  assert.throws(() => parseExec('[1]'), (e) => isAgentError(e, 'appc.build-invalid'));
  assert.throws(() => parseExec('  '), /--exec is empty/);
});

test('buildManifest writes only what was given, validated; labels version, os, arch first', () => {
  const { manifest, text } = buildManifest({ ...req, exec: ['/bin/true'], labels: ['channel=stable'] });
  assert.equal(manifest.name, req.name);
  assert.deepEqual(JSON.parse(text), {
    acKind: 'ImageManifest', acVersion: '0.8.11', name: req.name,
    labels: [{ name: 'version', value: '1.2.0' }, { name: 'os', value: 'linux' }, { name: 'arch', value: 'amd64' }, { name: 'channel', value: 'stable' }],
    app: { exec: ['/bin/true'], user: '0', group: '0' },
  });
  assert.equal(JSON.parse(buildManifest(req).text).app, undefined);
  assert.throws(() => buildManifest({ ...req, labels: ['os=windows'] }), /label os is given twice/);
  assert.throws(() => buildManifest({ ...req, labels: ['novalue'] }), /is not KEY=VALUE/);
  assert.throws(() => buildManifest({ ...req, name: 'Bad Name' }), (e) => isAgentError(e, 'appc.invalid-manifest'));
  assert.throws(() => buildManifest({ ...req, arch: 'sparc' }), (e) => isAgentError(e, 'appc.invalid-manifest'));
});

test('sortedNames orders bytewise, as tar --sort=name', () => {
  assert.deepEqual(sortedNames(['b', 'B', 'a', 'a.b', 'a-b', 'é']), ['B', 'a', 'a-b', 'a.b', 'b', 'é']);
});

test('publishPlan: the page and files discovery finds for the name, its version and latest', async () => {
  const { manifest } = buildManifest(req);
  const plan = publishPlan(manifest, defaultBaseUrl(manifest.name, 8443));
  assert.equal(plan.dir, 'tools/hello');
  assert.equal(plan.versioned, 'hello-1.2.0-linux-amd64');
  assert.equal(plan.latest, 'hello-latest-linux-amd64');
  assert.equal(plan.template, 'https://example.com:8443/tools/hello/hello-{version}-{os}-{arch}.{ext}');
  // What the fetcher's discovery makes of the page, for this version and for latest.
  const get = async (url: string) => (url === 'https://example.com:8443/tools/hello?ac-discovery=1' ? { status: 200, body: plan.page } : { status: 404, body: '' });
  for (const [version, file] of [['1.2.0', plan.versioned], [undefined, plan.latest]] as const) {
    const labels: Record<string, string> = { os: 'linux', arch: 'amd64', ...(version && { version }) };
    const found = await discoverEndpoints({ name: manifest.name, labels }, { get, port: 8443 });
    assert.deepEqual(found.found, [{ aci: `https://example.com:8443/tools/hello/${file}.aci`, asc: `https://example.com:8443/tools/hello/${file}.aci.asc` }]);
  }
  assert.equal(publishPlan(buildManifest({ ...req, name: 'example.com' }).manifest, 'https://example.com/').template, 'https://example.com/example.com-{version}-{os}-{arch}.{ext}');
  assert.throws(() => publishPlan(buildManifest({ ...req, version: 'latest' }).manifest, 'https://x'), /cannot be published/);
});
