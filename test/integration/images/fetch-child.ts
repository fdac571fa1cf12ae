/**
 * A fetch run in a child process by the crash test: it fetches argv[2] (a path or URL) into
 * the store under argv[3] with the keys under argv[4], and when the phase argv[5] passes
 * half its bytes it prints "paused" and blocks, so the parent can kill -9 it mid-phase.
 * Env HOST_AGENT_TEST_CA: a CA certificate file for https.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Fetcher } from '../../../agent/host/images/fetch.js';
import { ImageStore } from '../../../agent/host/images/store.js';
import { Keystore } from '../../../agent/host/trust/keystore.js';

const [source, stateDir, keyDir, stopPhase] = process.argv.slice(2) as [string, string, string, string];
const caFile = process.env.HOST_AGENT_TEST_CA;
const store = await ImageStore.open({ stateDir });
const keystore = new Keystore({ adminDir: join(keyDir, 'etc'), systemDir: join(keyDir, 'usr') });
const fetcher = new Fetcher({
  store,
  keystore,
  http: { ...(caFile && { ca: readFileSync(caFile) }) },
  onProgress: ({ phase, done, total }) => {
    if (phase === stopPhase && total && done > total / 2) {
      process.stdout.write('paused\n');
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000);
    }
  },
});
await fetcher.fetch(source.startsWith('https://') ? { kind: 'url', url: source } : { kind: 'file', path: source });
process.stdout.write('done\n');
