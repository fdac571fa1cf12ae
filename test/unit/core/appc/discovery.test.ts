import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  discoverEndpoints,
  discoverPublicKeys,
  discoveryPrefixes,
  discoveryUrls,
  renderTemplate,
  type AciEndpoint,
  type HttpResult,
} from '../../../../agent/core/appc/discovery.js';
import type { AppRef } from '../../../../agent/core/appc/app-string.js';

/** appc/spec discovery/testdata/meta0[1-6].html, reduced to their head (the rest holds no meta tag). */
function page(...metas: [string, string][]): string {
  const tags = metas.map(([name, content]) => `\t<meta name="${name}" content="${content}">`).join('\n');
  return `<!DOCTYPE html>\n\n<html>\n<head>\n\t<title>My app</title>\n${tags}\n</head>\n\n<body>\n\t<h1>My App</h1>\n</body>\n</html>\n`;
}
const FULL = 'example.com https://storage.example.com/{name}-{version}-{os}-{arch}.{ext}';
const SHORT = 'example.com https://storage.example.com/{name}-{version}.{ext}';
const KEYS = 'example.com https://example.com/pubkeys.gpg';
const META: Record<string, string> = {
  meta01: page(['ac-discovery', FULL], ['ac-discovery-pubkeys', KEYS]),
  meta02: page(['ac-discovery', FULL]),
  meta03: page(['ac-discovery-pubkeys', KEYS]),
  meta04: page(['ac-discovery', 'example.com https://another.storage.example.com/{name}-{version}-{os}-{arch}.{ext}'], ['ac-discovery-pubkeys', KEYS]),
  meta05: page(['ac-discovery', FULL], ['ac-discovery', SHORT], ['ac-discovery-pubkeys', KEYS]),
  meta06: page(['ac-discovery', FULL], ['ac-discovery', SHORT], ['ac-discovery', 'example.com hdfs://storage.example.com/{name}-{version}-{os}-{arch}.{ext}'], ['ac-discovery-pubkeys', KEYS]),
};

/** A server for example.com: `served` maps a path to a page; everything else is 404. Records requests. */
function server(served: Record<string, string>) {
  const requests: string[] = [];
  const get = async (url: string): Promise<HttpResult> => {
    requests.push(url);
    const u = new URL(url);
    const path = u.pathname === '/' ? '' : u.pathname;
    const name = Object.hasOwn(served, path) ? served[path] : undefined;
    if (u.host !== 'example.com' || u.search !== '?ac-discovery=1' || name === undefined) return { status: 404, body: 'not found' };
    return { status: 200, body: META[name] };
  };
  return { get, requests };
}

const STD = { version: '1.0.0', os: 'linux', arch: 'amd64' };
function endpoint(base: string): AciEndpoint {
  return { aci: `${base}.aci`, asc: `${base}.aci.asc` };
}
const MYAPP_FULL = endpoint('https://storage.example.com/example.com/myapp-1.0.0-linux-amd64');
const PUBKEYS = ['https://example.com/pubkeys.gpg'];

interface Case {
  desc: string;
  served: Record<string, string>;
  app: AppRef;
  endpoints: AciEndpoint[] | null;
  pubkeys: string[] | null;
}

/** The reference cases (appc/spec discovery_test.go TestDiscoverEndpoints and derived ones). */
const CASES: Case[] = [
  { desc: 'meta01 at /myapp', served: { '/myapp': 'meta01' }, app: { name: 'example.com/myapp', labels: STD }, endpoints: [MYAPP_FULL], pubkeys: PUBKEYS },
  {
    desc: 'walk up to the host root',
    served: { '': 'meta01' },
    app: { name: 'example.com/myapp/foobar', labels: STD },
    endpoints: [endpoint('https://storage.example.com/example.com/myapp/foobar-1.0.0-linux-amd64')],
    pubkeys: PUBKEYS,
  },
  { desc: 'no meta tags on any walked path', served: { '/path/out/of/myapp': 'meta01' }, app: { name: 'example.com/myapp/foobar/bazzer', labels: STD }, endpoints: null, pubkeys: null },
  { desc: 'ac-discovery at root, pubkeys at /myapp', served: { '': 'meta02', '/myapp': 'meta03' }, app: { name: 'example.com/myapp', labels: STD }, endpoints: [MYAPP_FULL], pubkeys: PUBKEYS },
  { desc: 'pubkeys at root, ac-discovery at /myapp', served: { '': 'meta03', '/myapp': 'meta02' }, app: { name: 'example.com/myapp', labels: STD }, endpoints: [MYAPP_FULL], pubkeys: PUBKEYS },
  { desc: 'only ac-discovery at root', served: { '': 'meta02' }, app: { name: 'example.com/myapp', labels: STD }, endpoints: [MYAPP_FULL], pubkeys: null },
  { desc: 'only pubkeys at root', served: { '': 'meta03' }, app: { name: 'example.com/myapp', labels: STD }, endpoints: null, pubkeys: PUBKEYS },
  { desc: 'deepest prefix wins for endpoints', served: { '': 'meta04', '/myapp': 'meta02' }, app: { name: 'example.com/myapp', labels: STD }, endpoints: [MYAPP_FULL], pubkeys: PUBKEYS },
  {
    desc: 'a template needing missing labels is skipped',
    served: { '/myapp': 'meta05' },
    app: { name: 'example.com/myapp', labels: { version: '1.0.0' } },
    endpoints: [endpoint('https://storage.example.com/example.com/myapp-1.0.0')],
    pubkeys: PUBKEYS,
  },
  {
    desc: "a label called 'name' does not override {name}",
    served: { '/myapp': 'meta05' },
    app: { name: 'example.com/myapp', labels: { name: 'labelcalledname', version: '1.0.0' } },
    endpoints: [endpoint('https://storage.example.com/example.com/myapp-1.0.0')],
    pubkeys: PUBKEYS,
  },
  {
    desc: 'every rendered template, in document order, whatever its scheme',
    served: { '/myapp': 'meta06' },
    app: { name: 'example.com/myapp', labels: STD },
    endpoints: [MYAPP_FULL, endpoint('https://storage.example.com/example.com/myapp-1.0.0'), endpoint('hdfs://storage.example.com/example.com/myapp-1.0.0-linux-amd64')],
    pubkeys: PUBKEYS,
  },
  {
    desc: 'version defaults to latest',
    served: { '/myapp': 'meta01' },
    app: { name: 'example.com/myapp', labels: { os: 'linux', arch: 'amd64' } },
    endpoints: [endpoint('https://storage.example.com/example.com/myapp-latest-linux-amd64')],
    pubkeys: PUBKEYS,
  },
  { desc: 'no os/arch labels and only {os}/{arch} templates', served: { '/myapp': 'meta01' }, app: { name: 'example.com/myapp', labels: {} }, endpoints: null, pubkeys: PUBKEYS },
  {
    desc: 'labels the template does not use are ignored',
    served: { '/myapp': 'meta01' },
    app: { name: 'example.com/myapp', labels: { ...STD, channel: 'alpha' } },
    endpoints: [MYAPP_FULL],
    pubkeys: PUBKEYS,
  },
];

for (const c of CASES) {
  test(`discovery: ${c.desc}`, async () => {
    for (const insecureHttp of [false, true]) {
      const { get } = server(c.served);
      if (c.endpoints) assert.deepEqual((await discoverEndpoints(c.app, { get, insecureHttp })).found, c.endpoints);
      else await assert.rejects(discoverEndpoints(c.app, { get, insecureHttp }), { code: 'appc.discovery-failed', subject: c.app.name });
      if (c.pubkeys) assert.deepEqual((await discoverPublicKeys(c.app, { get, insecureHttp })).found, c.pubkeys);
      else await assert.rejects(discoverPublicKeys(c.app, { get, insecureHttp }), { code: 'appc.discovery-failed', subject: c.app.name });
    }
  });
}

test('walk order: deepest prefix first, https then http only when insecure', async () => {
  const app = { name: 'example.com/a/b', labels: STD };
  const insecure = server({});
  await assert.rejects(discoverEndpoints(app, { get: insecure.get, insecureHttp: true }), (e: any) => {
    assert.equal(e.code, 'appc.discovery-failed');
    assert.equal(
      e.message,
      'discovery failed: no image found (example.com/a/b: expected a 200 OK got 404; example.com/a: expected a 200 OK got 404; example.com: expected a 200 OK got 404)',
    );
    assert.match(e.hint, /<meta name="ac-discovery" content="PREFIX URL">/);
    return true;
  });
  assert.deepEqual(insecure.requests, [
    'https://example.com/a/b?ac-discovery=1',
    'http://example.com/a/b?ac-discovery=1',
    'https://example.com/a?ac-discovery=1',
    'http://example.com/a?ac-discovery=1',
    'https://example.com?ac-discovery=1',
    'http://example.com?ac-discovery=1',
  ]);
  const secure = server({});
  await assert.rejects(discoverPublicKeys(app, { get: secure.get }), { code: 'appc.discovery-failed' });
  assert.deepEqual(secure.requests, ['https://example.com/a/b?ac-discovery=1', 'https://example.com/a?ac-discovery=1', 'https://example.com?ac-discovery=1']);
});

test('http is used only when https fails and insecure HTTP is allowed', async () => {
  const requests: string[] = [];
  const get = async (url: string): Promise<HttpResult> => {
    requests.push(url);
    if (url.startsWith('https:')) throw new Error('connect ECONNREFUSED 127.0.0.1:443');
    return { status: 200, body: META.meta01 };
  };
  const app = { name: 'example.com/myapp', labels: STD };
  const found = await discoverEndpoints(app, { get, insecureHttp: true });
  assert.deepEqual(found, { found: [MYAPP_FULL], prefix: 'example.com/myapp', failures: [] });
  await assert.rejects(discoverEndpoints(app, { get }), (e: any) => e.message.includes('example.com/myapp: connect ECONNREFUSED 127.0.0.1:443'));
});

test('failed prefixes before the one that answered are reported', async () => {
  const { get } = server({ '': 'meta01' });
  const found = await discoverEndpoints({ name: 'example.com/myapp', labels: STD }, { get });
  assert.equal(found.prefix, 'example.com');
  assert.deepEqual(found.failures, [{ prefix: 'example.com/myapp', error: 'expected a 200 OK got 404' }]);
});

test('a port for loopback servers goes on the host', () => {
  assert.deepEqual(discoveryUrls('127.0.0.1/app', { insecureHttp: true, port: 8443 }), [
    'https://127.0.0.1:8443/app?ac-discovery=1',
    'http://127.0.0.1:8443/app?ac-discovery=1',
  ]);
  assert.deepEqual(discoveryUrls('example.com', {}), ['https://example.com?ac-discovery=1']);
});

test('prefixes and templates', () => {
  assert.deepEqual(discoveryPrefixes('example.com/a/b'), ['example.com/a/b', 'example.com/a', 'example.com']);
  assert.deepEqual(discoveryPrefixes('example.com'), ['example.com']);
  assert.equal(renderTemplate('https://x/{name}-{version}.{ext}', { name: 'a/b', version: '1', ext: 'aci' }), 'https://x/a/b-1.aci');
  assert.equal(renderTemplate('https://x/{name}-{os}.{ext}', { name: 'a', ext: 'aci' }), undefined);
  assert.equal(renderTemplate('https://x/{name}{}', { name: 'a' }), undefined);
});
