/**
 * `agentctl fetch` of a 256 MiB image from loopback HTTP (download, signature check,
 * sha512 of the tar, extraction into the store) against the baseline of the same work by
 * the reference tools on the same file: `gpg --verify` + `sha512sum` + `tar -x`, in the
 * same run. Targets: within 1.3× of the baseline; peak RSS of the fetching process under
 * 150 MB (measured by /usr/bin/time -f %M). Each run starts from an empty store / target
 * directory, after a `sync`; clean-up and sync are not timed. agentctl runs from dist/
 * in direct mode (no agent).
 */
import { execFileSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from '../test/lib/repo.js';
import { goodImage, writeAci, type AciEntry } from '../test/lib/aci.js';
import { makeGpg } from '../test/lib/gpg.js';
import { median, report, timeWithRss, type Sample } from './lib/measure.js';

const RUNS = 5;
const FILES = 64;
const FILE_BYTES = 4 << 20; // 64 × 4 MiB = 256 MiB of content
const MAX_RATIO = 1.3;
const MAX_RSS_MB = 150;

export async function run(): Promise<boolean> {
  const cleanups: Array<() => unknown> = [];
  const scope = { after: (fn: () => unknown) => cleanups.push(fn) };
  const dir = await mkdtemp(join(tmpdir(), 'host-agent-bench-fetch-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  try {
    const gpg = await makeGpg(scope);
    const key = await gpg.newKey('Bench Publisher <bench@example.com>');
    const extra: AciEntry[] = [{ name: 'rootfs/data', type: 'directory' }];
    for (let i = 0; i < FILES; i++) extra.push({ name: `rootfs/data/blob-${i}`, content: { random: FILE_BYTES } });
    const image = await writeAci(join(dir, 'big.aci'), goodImage('example.com/bench', {}, extra));
    await gpg.sign(image, key);
    const size = (await stat(image)).size;

    const trustDir = join(dir, 'trust');
    await mkdir(join(trustDir, 'prefix.d/example.com/bench'), { recursive: true });
    await writeFile(join(trustDir, 'prefix.d/example.com/bench', key.fingerprint), key.armored);

    const server = createServer((req, res) => {
      const file = req.url === '/big.aci' ? image : req.url === '/big.aci.asc' ? `${image}.asc` : undefined;
      if (!file) return void res.writeHead(404).end();
      void stat(file).then((s) => {
        res.writeHead(200, { 'content-length': s.size });
        createReadStream(file, { highWaterMark: 1 << 20 }).pipe(res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/big.aci`;

    const stateDir = join(dir, 'state');
    const target = join(dir, 'tar-x');
    const fetchEnv: NodeJS.ProcessEnv = {
      ...process.env, HOST_AGENT_BUS: 'system', DBUS_SYSTEM_BUS_ADDRESS: `unix:path=${join(dir, 'no-bus')}`,
      HOST_AGENT_STATE_DIR: stateDir, HOST_AGENT_TRUST_DIR: trustDir, HOST_AGENT_SYSTEM_TRUST_DIR: join(dir, 'none'),
    };
    const gpgEnv = { ...process.env, GNUPGHOME: gpg.home };
    const fetchArgv = [process.execPath, join(REPO, 'dist/agent/cli/main.js'), 'fetch', '--insecure-options=http', url];
    const baselineArgv = ['sh', '-ec', `gpg --batch --quiet --verify "$1.asc" "$1" 2>/dev/null; sha512sum "$1" >/dev/null; tar -xf "$1" -C "$2"`, 'sh', image, target];

    const ours: Sample = { name: 'agentctl fetch (http, 256 MiB)', runs: [] };
    const baseline: Sample = { name: 'gpg --verify + sha512sum + tar -x', runs: [] };
    const rss: number[] = [];
    for (let i = 0; i <= RUNS; i++) {
      // Interleaved, after one warm-up of each; every run starts empty.
      await rm(stateDir, { recursive: true, force: true });
      await rm(target, { recursive: true, force: true });
      await mkdir(target);
      // Write back what the previous run left dirty, so no run pays for another's writes.
      execFileSync('sync');
      const f = await timeWithRss(fetchArgv, fetchEnv);
      execFileSync('sync');
      const b = await timeWithRss(baselineArgv, gpgEnv);
      if (i === 0) continue;
      ours.runs.push(f.ms);
      baseline.runs.push(b.ms);
      rss.push(f.rssMb);
    }
    const met = report(`image fetch of ${(size / 2 ** 20).toFixed(0)} MiB from loopback HTTP (median of ${RUNS})`, baseline, [ours], {
      sample: ours.name, maxRatio: MAX_RATIO,
    });
    const peak = Math.max(...rss);
    const rssOk = peak < MAX_RSS_MB;
    console.log(`peak RSS of agentctl fetch: ${peak.toFixed(1)} MB (median ${median(rss).toFixed(1)} MB); target < ${MAX_RSS_MB} MB: ${rssOk ? 'MET' : 'MISSED'}`);
    return met && rssOk;
  } finally {
    for (const fn of cleanups.reverse()) await fn();
  }
}
