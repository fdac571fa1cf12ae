import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFile, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Fetcher } from '../../../agent/host/images/fetch.js';
import { ImageStore } from '../../../agent/host/images/store.js';
import { goodImage, writeAci } from '../../lib/aci.js';
import { makeTestCa, startHttpsServer, type TestHttpsServer } from '../../lib/https.js';
import { tmpdir } from '../../lib/tmpdir.js';
import { makeKeys, makeKeystore, suiteScope, type Keys } from './fixtures.js';

const suite = suiteScope();
let keys: Keys;
let keyDir: string;
let small: string;
let big: string;
let server: TestHttpsServer;
let caFile: string;

before(async () => {
  keys = await makeKeys(suite);
  const keystore = await makeKeystore(suite, keys);
  keyDir = join((await keystore.list())[0]!.path.split('/etc/')[0]!);
  const dir = await tmpdir(suite, 'images-');
  small = await writeAci(join(dir, 'small.aci'), goodImage('example.com/app', { version: '1' }), 'gzip');
  await keys.gpg.sign(small, keys.app);
  big = await writeAci(join(dir, 'big.aci'), goodImage('example.com/app', { version: '2' }, [{ name: 'rootfs/big', content: { random: 8 << 20 } }]));
  await keys.gpg.sign(big, keys.app);
  await copyFile(big, join(dir, 'www-big.aci'));
  await copyFile(`${big}.asc`, join(dir, 'www-big.aci.asc'));
  server = await startHttpsServer(suite, dir, await makeTestCa(suite));
  caFile = join(dir, 'ca.pem');
  await writeFile(caFile, server.ca);
});

/** Runs a fetch in a child, kills it with SIGKILL once it pauses in `phase`. */
async function killDuring(source: string, stateDir: string, phase: string): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'fetch-child.ts'), source, stateDir, keyDir, phase], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, HOST_AGENT_TEST_CA: caFile },
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.setEncoding('utf8').on('data', (s: string) => (s.includes('paused') ? resolve() : s.includes('done') && reject(new Error('the fetch finished'))));
      child.on('exit', () => reject(new Error('the child exited before pausing')));
    });
  } finally {
    if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGKILL');
  }
  assert.equal(await exited, 'SIGKILL');
}

// Verify and download run on a download (a local file is verified in place: nothing in the store yet).
const url = () => `${server.url}/www-big.aci`;
for (const [phase, source] of [['download', url], ['verify', url], ['extract', () => big]] as const) {
  test(`kill -9 during ${phase}: the next start finds a consistent store without leftovers`, async (t) => {
    const stateDir = await tmpdir(t, 'state-');
    const store = await ImageStore.open({ stateDir });
    const keystore = await makeKeystore(t, keys);
    const kept = await new Fetcher({ store, keystore }).fetch({ kind: 'file', path: small });
    await store.close();

    await killDuring(source(), stateDir, phase);
    const leftovers = (await readdir(store.dir)).filter((n) => n.startsWith('.tmp-'));
    assert.ok(leftovers.length > 0, 'the kill hit work in progress');

    // The killed child's lock names a process that is gone: it is taken over.
    const reopened = await ImageStore.open({ stateDir });
    assert.deepEqual((await readdir(reopened.dir)).sort(), ['.lock', kept.id, 'index.json'].sort());
    assert.deepEqual(await reopened.list(), [kept]);
    assert.deepEqual(JSON.parse(await readFile(join(reopened.dir, 'index.json'), 'utf8')).images, [
      { name: kept.name, labels: kept.labels, id: kept.id },
    ]);
    // And the interrupted fetch simply works when run again.
    const again = await new Fetcher({ store: reopened, keystore }).fetch({ kind: 'file', path: big });
    assert.deepEqual((await reopened.list()).map((i) => i.id).sort(), [kept.id, again.id].sort());
  });
}

test('open reconciles the index with the image directories after a crash between rename and index write', async (t) => {
  const stateDir = await tmpdir(t, 'state-');
  const keystore = await makeKeystore(t, keys);
  const store = await ImageStore.open({ stateDir });
  const a = await new Fetcher({ store, keystore }).fetch({ kind: 'file', path: small });
  const b = await new Fetcher({ store, keystore }).fetch({ kind: 'file', path: big });
  // As if the index write after b's rename was lost, and a was removed without its index update.
  await writeFile(join(store.dir, 'index.json'), JSON.stringify({ images: [{ name: a.name, labels: a.labels, id: a.id }] }));
  await rename(store.imageDir(a.id), join(store.dir, '.tmp-rm-crashed'));
  await store.close();
  const reopened = await ImageStore.open({ stateDir });
  assert.deepEqual(await reopened.list(), [b]);
  assert.deepEqual(await reopened.get('example.com/app'), b);
  assert.deepEqual((await readdir(reopened.dir)).sort(), ['.lock', b.id, 'index.json'].sort());
});
