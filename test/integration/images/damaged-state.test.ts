/**
 * A store whose files were damaged (garbage, `null`, `{"images":[null]}`, wrong types)
 * still opens: the damaged file is moved aside to `<name>.corrupt-<time>` with a warning
 * that names it, the index is rebuilt from the image directories, the download memo starts
 * again, an image whose meta.json is lost is set aside (it cannot show its signer), a
 * garbage lock is taken over; and later fetches work. Real files, real https, real gpg.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, readlink, writeFile, rm, mkdir, access } from 'node:fs/promises';
import { join } from 'node:path';
import { Fetcher } from '../../../agent/host/images/fetch.js';
import { ImageStore, type ImageInfo } from '../../../agent/host/images/store.js';
import type { Keystore } from '../../../agent/host/trust/keystore.js';
import { goodImage, writeAci } from '../../lib/aci.js';
import { makeTestCa, startHttpsServer, type TestHttpsServer } from '../../lib/https.js';
import { tmpdir } from '../../lib/tmpdir.js';
import { makeKeys, makeKeystore, suiteScope, type Keys } from './fixtures.js';

const suite = suiteScope();
let keys: Keys;
let keystore: Keystore;
let server: TestHttpsServer;

before(async () => {
  keys = await makeKeys(suite);
  keystore = await makeKeystore(suite, keys);
  const root = await tmpdir(suite, 'www-');
  server = await startHttpsServer(suite, root, await makeTestCa(suite, ['example.com']));
  const app = await writeAci(join(root, 'app.aci'), goodImage('example.com/app'), 'gzip');
  await keys.gpg.sign(app, keys.app);
});

interface Opened {
  store: ImageStore;
  warnings: string[];
}

async function open(stateDir: string): Promise<Opened> {
  const warnings: string[] = [];
  const store = await ImageStore.open({ stateDir, warn: (m) => warnings.push(m) });
  return { store, warnings };
}

function fetch(store: ImageStore): Promise<ImageInfo> {
  return new Fetcher({ store, keystore, http: { ca: server.ca, idleTimeoutMs: 2000 } }).fetch({ kind: 'url', url: `${server.url}/app.aci` });
}

/** A state dir whose store holds the app image, fetched by URL (so fetched.json has its entry). */
async function stateWithImage(t: { after(fn: () => unknown): void }): Promise<{ stateDir: string; info: ImageInfo }> {
  const stateDir = await tmpdir(t, 'state-');
  const { store } = await open(stateDir);
  const info = await fetch(store);
  await store.close();
  return { stateDir, info };
}

async function asideOf(dir: string, name: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.startsWith(`${name}.corrupt-`));
}

for (const [label, text] of [['garbage', '\u0000\u0001garbage{'], ['null', 'null'], ['{"images":[null]}', '{"images":[null]}'], ['wrong types', '{"images":[{"name":3,"labels":"x","id":7}]}'], ['a list', '[]']] as const) {
  test(`index.json with ${label}: the store opens, the index is rebuilt from the image directories`, async (t) => {
    const { stateDir, info } = await stateWithImage(t);
    const dir = join(stateDir, 'images');
    await writeFile(join(dir, 'index.json'), text);
    const { store, warnings } = await open(stateDir);
    t.after(() => store.close());
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.ok(warnings[0]!.startsWith(`${join(dir, 'index.json')}: the image index is damaged`), warnings[0]);
    const [aside] = await asideOf(dir, 'index.json');
    assert.equal(await readFile(join(dir, aside!), 'utf8'), text, 'the evidence is kept');
    assert.deepEqual((await store.get('example.com/app')).id, info.id, 'found by name again');
    const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as { images: Array<{ id: string }> };
    assert.deepEqual(index.images.map((e) => e.id), [info.id]);
  });
}

for (const [label, text] of [['garbage', 'not json at all'], ['null', 'null'], ['{"fetched":[null]}', '{"fetched":[null]}'], ['a wrong id', '{"fetched":[{"url":"u","signatureSha256":"x","id":"../../etc"}]}']] as const) {
  test(`fetched.json with ${label}: moved aside, and fetching works (downloads again)`, async (t) => {
    const { stateDir, info } = await stateWithImage(t);
    const dir = join(stateDir, 'images');
    await writeFile(join(dir, 'fetched.json'), text);
    const { store, warnings } = await open(stateDir);
    t.after(() => store.close());
    const again = await fetch(store);
    assert.equal(again.id, info.id);
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0]!, new RegExp(`^${join(dir, 'fetched.json')}: the memo of verified downloads \\(a cache\\) is damaged`));
    assert.equal((await asideOf(dir, 'fetched.json')).length, 1);
    const memo = JSON.parse(await readFile(join(dir, 'fetched.json'), 'utf8')) as { fetched: Array<{ id: string }> };
    assert.deepEqual(memo.fetched.map((e) => e.id), [info.id], 'the memo is written afresh');
  });
}

for (const [label, text] of [['garbage', '}{'], ['null', 'null'], ['wrong types', '{"id":1,"name":[],"signer":5}'], ['another image\'s id', '__OTHER__']] as const) {
  test(`meta.json with ${label}: the image is set aside (it cannot show its signer), the store opens, a fetch restores it`, async (t) => {
    const { stateDir, info } = await stateWithImage(t);
    const dir = join(stateDir, 'images');
    const meta = JSON.parse(await readFile(join(dir, info.id, 'meta.json'), 'utf8')) as ImageInfo;
    const bad = text === '__OTHER__' ? JSON.stringify({ ...meta, id: `sha512-${'0'.repeat(128)}` }) : text;
    await writeFile(join(dir, info.id, 'meta.json'), bad);
    const { store, warnings } = await open(stateDir);
    t.after(() => store.close());
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.ok(warnings[0]!.startsWith(`${join(dir, info.id, 'meta.json')}: the record of image ${info.id} is damaged`), warnings[0]);
    assert.match(warnings[0]!, /moved aside/);
    const [aside] = await asideOf(dir, info.id);
    assert.equal(await readFile(join(dir, aside!, 'meta.json'), 'utf8'), bad, 'the evidence is kept');
    assert.deepEqual(await store.list(), []);
    await assert.rejects(store.get('example.com/app'), { code: 'image.not-in-store' });
    const again = await fetch(store);
    assert.equal(again.id, info.id);
    assert.equal(again.signer, keys.app.fingerprint, 'verified again');
    assert.deepEqual((await store.list()).map((i) => i.id), [info.id]);
  });
}

test('an image directory without meta.json is set aside at open', async (t) => {
  const { stateDir, info } = await stateWithImage(t);
  const dir = join(stateDir, 'images');
  await rm(join(dir, info.id, 'meta.json'));
  const { store, warnings } = await open(stateDir);
  t.after(() => store.close());
  assert.equal(warnings.length, 1, warnings.join('\n'));
  assert.match(warnings[0]!, /has no meta\.json/);
  assert.equal((await asideOf(dir, info.id)).length, 1);
  assert.equal((await fetch(store)).id, info.id, 'fetching it again works');
});

test('meta.json that is a directory is damage too', async (t) => {
  const { stateDir, info } = await stateWithImage(t);
  const dir = join(stateDir, 'images');
  await rm(join(dir, info.id, 'meta.json'));
  await mkdir(join(dir, info.id, 'meta.json'));
  const { store, warnings } = await open(stateDir);
  t.after(() => store.close());
  assert.match(warnings.join('\n'), /it is a directory/);
  assert.deepEqual(await store.list(), []);
});

for (const text of ['garbage', '', '{"pid":1}\n', '1 2 3\n']) {
  test(`a lock file holding ${JSON.stringify(text)} names no owner: taken over with a warning`, async (t) => {
    const { stateDir } = await stateWithImage(t);
    const dir = join(stateDir, 'images');
    await writeFile(join(dir, '.lock'), text);
    const { store, warnings } = await open(stateDir);
    assert.match(warnings.join('\n'), new RegExp(`${join(dir, '.lock')}: the lock file is damaged`));
    assert.match(await readlink(join(dir, '.lock')), new RegExp(`^${process.pid} \\d+$`));
    await store.close();
    await assert.rejects(access(join(dir, '.lock')), { code: 'ENOENT' });
  });
}
