/**
 * Fetching onto a full disk (the store on a small tmpfs the test mounts): by file
 * (extraction) and by https URL (download), the fetch fails with `disk.full` naming the
 * store and the free space; the store is as it was (no temp left).
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { isAgentError } from '../../../agent/core/errors.js';
import { Fetcher, type FetchOptions } from '../../../agent/host/images/fetch.js';
import { ImageStore } from '../../../agent/host/images/store.js';
import type { Keystore } from '../../../agent/host/trust/keystore.js';
import { goodImage, writeAci } from '../../lib/aci.js';
import { makeTestCa, startHttpsServer, type TestHttpsServer } from '../../lib/https.js';
import { tmpdir } from '../../lib/tmpdir.js';
import { smallFs } from '../../lib/small-fs.js';
import { makeKeys, makeKeystore, snapshot, suiteScope, type Keys } from './fixtures.js';

const suite = suiteScope();
let keys: Keys;
let keystore: Keystore;
let server: TestHttpsServer;
let file: string;

before(async () => {
  keys = await makeKeys(suite);
  keystore = await makeKeystore(suite, keys);
  const root = await tmpdir(suite, 'www-');
  server = await startHttpsServer(suite, root, await makeTestCa(suite, ['example.com']));
  file = await writeAci(join(root, 'app.aci'), goodImage('example.com/app', {}, [{ name: 'rootfs/noise', content: { random: 3 << 20 } }]), 'gzip');
  await keys.gpg.sign(file, keys.app);
});

for (const kind of ['file', 'url'] as const) {
  test(`a fetch by ${kind} onto a full disk: disk.full naming the store and the free space`, async (t) => {
    const stateDir = await smallFs(t, '2m');
    const store = await ImageStore.open({ stateDir });
    t.after(() => store.close());
    // A size limit set above the disk's size (the default, the free space, would refuse the
    // image as too large first): the writes themselves meet the full disk.
    const options: FetchOptions = { store, keystore, http: { ca: server.ca, idleTimeoutMs: 2000 }, limits: { maxBytes: 1 << 30 } };
    const source = kind === 'file' ? { kind, path: file } as const : { kind, url: `${server.url}/app.aci` } as const;
    const before = await snapshot(store.dir);
    await assert.rejects(new Fetcher(options).fetch(source), (e) => {
      assert.ok(isAgentError(e, 'disk.full'), String((e as Error).stack));
      assert.ok(e.subject?.startsWith(store.dir), e.subject);
      assert.match(e.message, /no space left on the file system \(.* free of 2\.0 MiB\)/);
      return true;
    });
    assert.deepEqual(await snapshot(store.dir), before, 'the store is as it was');
  });
}
