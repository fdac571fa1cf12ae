import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Fetcher, type FetchOptions, type FetchProgress } from '../../../agent/host/images/fetch.js';
import type { ImageStore } from '../../../agent/host/images/store.js';
import type { Keystore } from '../../../agent/host/trust/keystore.js';
import { goodImage, writeAci } from '../../lib/aci.js';
import { makeTestCa, startHttpsServer, type TestHttpsServer } from '../../lib/https.js';
import { tmpdir } from '../../lib/tmpdir.js';
import { makeKeys, makeKeystore, makeStore, snapshot, suiteScope, type Keys } from './fixtures.js';

const suite = suiteScope();
let keys: Keys;
let keystore: Keystore;
let server: TestHttpsServer;

before(async () => {
  keys = await makeKeys(suite);
  keystore = await makeKeystore(suite, keys);
  const root = await tmpdir(suite, 'www-');
  server = await startHttpsServer(suite, root, await makeTestCa(suite, ['example.com']));
  // Each image has room to spare (busybox plus 1 MiB of noise), so a stall or cut lands mid-body.
  const app = await writeAci(join(root, 'app.aci'), goodImage('example.com/app', {}, [{ name: 'rootfs/noise', content: { random: 1 << 20 } }]), 'gzip');
  await keys.gpg.sign(app, keys.app);
  for (const name of ['stall', 'truncate', 'nosig']) await copyFile(app, join(root, `${name}.aci`));
  await copyFile(`${app}.asc`, join(root, 'stall.aci.asc'));
  await copyFile(`${app}.asc`, join(root, 'truncate.aci.asc'));
  const evil = await writeAci(join(root, 'evil.aci'), goodImage('example.com/evil'), 'gzip');
  await keys.gpg.sign(evil, keys.app);
  // Discovery: example.com/app and example.com/renamed point at images by template.
  await mkdir(join(root, 'images/example.com'), { recursive: true });
  await copyFile(app, join(root, 'images/example.com/app-1.0.0-linux-amd64.aci'));
  await copyFile(`${app}.asc`, join(root, 'images/example.com/app-1.0.0-linux-amd64.aci.asc'));
  await copyFile(evil, join(root, 'images/example.com/renamed-1.0.0-linux-amd64.aci'));
  await copyFile(`${evil}.asc`, join(root, 'images/example.com/renamed-1.0.0-linux-amd64.aci.asc'));
  const template = `https://example.com:${server.port}/images/{name}-{version}-{os}-{arch}.{ext}`;
  server.pages.set('/', `<html><head><meta name="ac-discovery" content="example.com ${template}"></head></html>`);
});

function fetcher(store: ImageStore, extra: Partial<FetchOptions> = {}): Fetcher {
  return new Fetcher({ store, keystore, http: { ca: server.ca, idleTimeoutMs: 2000, connectTo: server.connectTo(['example.com']) }, ...extra });
}

async function refused(store: ImageStore, url: string, code: string, check: (e: any) => void = () => undefined, extra: Partial<FetchOptions> = {}): Promise<void> {
  const before = await snapshot(store.dir);
  await assert.rejects(fetcher(store, extra).fetch({ kind: 'url', url }), (e: any) => {
    assert.equal(e.code, code, e.stack);
    assert.ok(e.hint, 'every error says what to do');
    check(e);
    return true;
  });
  assert.deepEqual(await snapshot(store.dir), before, 'the store is as it was');
}

test('a signed image fetched by https URL, with download progress', async (t) => {
  const store = await makeStore(t);
  const progress: FetchProgress[] = [];
  const info = await fetcher(store, { onProgress: (p) => progress.push(p) }).fetch({ kind: 'url', url: `${server.url}/app.aci` });
  assert.equal(info.name, 'example.com/app');
  assert.equal(info.source, `${server.url}/app.aci`);
  const downloads = progress.filter((p) => p.phase === 'download');
  assert.ok(downloads.length > 1);
  assert.equal(downloads.at(-1)!.done, downloads.at(-1)!.total);
});

test('a fetch by name walks discovery and checks the name and labels', async (t) => {
  const store = await makeStore(t);
  const f = fetcher(store, { discoveryPort: server.port });
  const info = await f.fetch({ kind: 'name', app: { name: 'example.com/app', labels: { version: '1.0.0', os: 'linux', arch: 'amd64' } } });
  assert.equal(info.name, 'example.com/app');
  assert.ok(server.requests.includes('/app?ac-discovery=1'));
  assert.deepEqual(await store.get('example.com/app', [{ name: 'version', value: '1.0.0' }]), info);
});

test('a server that gives an image with another name than asked: refused before extraction', async (t) => {
  const store = await makeStore(t);
  const before = await snapshot(store.dir);
  const app = { name: 'example.com/renamed', labels: { version: '1.0.0', os: 'linux', arch: 'amd64' } };
  await assert.rejects(fetcher(store, { discoveryPort: server.port }).fetch({ kind: 'name', app }), (e: any) => {
    assert.equal(e.code, 'image.name-mismatch');
    assert.match(e.message, /named example\.com\/evil, not example\.com\/renamed/);
    return true;
  });
  assert.deepEqual(await snapshot(store.dir), before);
});

test('a 404 signature fails before the image is downloaded', async (t) => {
  const store = await makeStore(t);
  await refused(store, `${server.url}/nosig.aci`, 'image.signature-missing', (e) => assert.match(e.hint, /gpg --armor --detach-sign/));
  assert.ok(!server.requests.includes('/nosig.aci'));
});

test('a missing image is a clear 404', async (t) => {
  const store = await makeStore(t);
  server.faults.set('/gone.aci.asc', { kind: 'status', status: 200 });
  await refused(store, `${server.url}/gone.aci`, 'image.not-found', (e) => assert.match(e.message, /HTTP 404/));
});

test('a truncated download is an error, and nothing is stored', async (t) => {
  const store = await makeStore(t);
  server.faults.set('/truncate.aci', { kind: 'truncate', afterBytes: 300_000 });
  await refused(store, `${server.url}/truncate.aci`, 'image.download-truncated', (e) => assert.match(e.message, /after 300000 of \d+ bytes/));
});

test('a stalled server times out quickly with a clear error', async (t) => {
  const store = await makeStore(t);
  server.faults.set('/stall.aci', { kind: 'stall', afterBytes: 200_000 });
  const started = Date.now();
  await refused(store, `${server.url}/stall.aci`, 'image.download-stalled', (e) => assert.match(e.message, /sent nothing for 0.3 s/), {
    http: { ca: server.ca, idleTimeoutMs: 300 },
  });
  assert.ok(Date.now() - started < 3000);
});

test('a server whose certificate is not from a trusted CA is refused', async (t) => {
  const store = await makeStore(t);
  await refused(store, `${server.url}/app.aci`, 'image.tls-untrusted', () => undefined, { http: { idleTimeoutMs: 2000 } });
});

test('plain http is refused unless --insecure-options=http', async (t) => {
  const store = await makeStore(t);
  await refused(store, `http://127.0.0.1:${server.port}/app.aci`, 'image.insecure-http', (e) => assert.match(e.hint, /--insecure-options=http/));
});

test('redirects are followed, but never from https down to http', async (t) => {
  const store = await makeStore(t);
  server.faults.set('/moved.aci', { kind: 'redirect', location: '/app.aci' });
  server.faults.set('/moved.aci.asc', { kind: 'redirect', location: `${server.url}/app.aci.asc` });
  const info = await fetcher(store).fetch({ kind: 'url', url: `${server.url}/moved.aci` });
  assert.equal(info.name, 'example.com/app');
  server.faults.set('/down.aci.asc', { kind: 'redirect', location: `http://127.0.0.1:${server.port}/app.aci.asc` });
  await refused(store, `${server.url}/down.aci`, 'image.insecure-http');
});

test('a URL that serves the same signature again is not downloaded again, while its signer is trusted', async (t) => {
  const store = await makeStore(t);
  const url = `${server.url}/app.aci`;
  const count = (path: string): number => server.requests.filter((r) => r === path).length;
  const [aci, asc] = [count('/app.aci'), count('/app.aci.asc')];
  const first = await fetcher(store).fetch({ kind: 'url', url });
  const again = await fetcher(store).fetch({ kind: 'url', url });
  assert.deepEqual(again, first);
  assert.equal(count('/app.aci') - aci, 1, 'the image was downloaded once');
  assert.equal(count('/app.aci.asc') - asc, 2, 'the signature was asked for each time');

  // Without trust in its signer the memo is not used: the download is verified again, and refused.
  const untrusting = await makeKeystore(t, keys);
  await untrusting.remove(keys.app.fingerprint);
  await assert.rejects(fetcher(store, { keystore: untrusting }).fetch({ kind: 'url', url }), { code: 'trust.key-untrusted' });
  assert.equal(count('/app.aci') - aci, 2);
});

test('a new image published at the same URL (a new signature) is downloaded', async (t) => {
  const store = await makeStore(t);
  const www = join(server.root, 'moving');
  await mkdir(www, { recursive: true });
  const publish = async (noise: string): Promise<void> => {
    const aci = await writeAci(join(www, 'app.aci'), goodImage('example.com/app', {}, [{ name: 'rootfs/noise', content: noise }]));
    await keys.gpg.sign(aci, keys.app);
  };
  await publish('one');
  const first = await fetcher(store).fetch({ kind: 'url', url: `${server.url}/moving/app.aci` });
  await publish('two');
  const second = await fetcher(store).fetch({ kind: 'url', url: `${server.url}/moving/app.aci` });
  assert.notEqual(second.id, first.id);
});
