/**
 * Hostile images against the real agentd (from dist/, in a sandbox, FetchImage over
 * D-Bus as agentctl calls it), issue #12:
 *   (a) time to refuse an 8 MB gzip bomb (8 GiB of tar) and a 5 MB xz bomb (32 GiB) whose
 *       signature is garbage, or made by a key nobody trusts, each against the baseline of
 *       reading the same file once (`cat FILE > /dev/null`) in the same run; target 2×.
 *       A trusted key's signature over other bytes, replayed (which has to be checked over the
 *       whole file) is reported too, against `sha512sum FILE` (hashing it once);
 *   (b) agentd's peak RSS (VmHWM) while it refuses a 5.9 MB signed image whose 1,400
 *       PAX headers each carry a 3.9 MiB extended attribute (5.3 GiB of metadata);
 *       target < 200 MB. This runs first, so the peak is the bomb's.
 * Each refusal must be the expected error; the bombs are built in the run (test/lib/bombs).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AGENT_BUS_NAME, AGENT_INTERFACE, AGENT_OBJECT_PATH } from '../agent/api/agent1.js';
import { callMethod } from '../agent/host/bus/lean-client.js';
import { goodImage, writeAci } from '../test/lib/aci.js';
import { waitForAgent } from '../test/lib/agent.js';
import { writeXattrBomb, writeZeroBomb } from '../test/lib/bombs.js';
import { makeGpg } from '../test/lib/gpg.js';
import { REPO } from '../test/lib/repo.js';
import { median, report, type Sample } from './lib/measure.js';

const NAME = 'example.com/app';
const RUNS = 7;
const MAX_RATIO = 2;
const MAX_RSS_MB = 200;
const AGENTD = join(REPO, 'dist/agent/main.js');
const GARBAGE_ASC = '-----BEGIN PGP SIGNATURE-----\n\nZ2FyYmFnZSBnYXJiYWdlIGdhcmJhZ2U=\n-----END PGP SIGNATURE-----\n';

const ms = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1e6;

async function statusKb(pid: number, field: 'VmHWM' | 'VmRSS'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)![1]);
}

/** Wall ms of `argv` with its output to /dev/null, median of RUNS after a warm-up. */
function timeCommand(name: string, argv: string[]): Sample {
  const once = (): number => {
    const start = process.hrtime.bigint();
    const r = spawnSync(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
    if (r.status !== 0) throw new Error(`${argv.join(' ')} exited ${r.status}: ${r.stderr}`);
    return ms(start);
  };
  once();
  return { name, runs: Array.from({ length: RUNS }, once) };
}

export async function run(): Promise<boolean> {
  const dir = await mkdtemp(join(tmpdir(), 'host-agent-bench-hostile-'));
  const cleanups: Array<() => unknown> = [];
  const scope = { after: (fn: () => unknown) => cleanups.push(fn) };
  const sandbox = join(REPO, 'scripts/sandbox');
  let agent: ReturnType<typeof spawn> | undefined;
  try {
    const gpg = await makeGpg(scope);
    const trusted = await gpg.newKey('App Publisher <app@example.com>');
    const stranger = await gpg.newKey('Stranger <stranger@example.net>');
    const trustDir = join(dir, 'trust');
    await mkdir(join(trustDir, `prefix.d/${NAME}`), { recursive: true });
    await writeFile(join(trustDir, `prefix.d/${NAME}`, trusted.fingerprint), trusted.armored);

    const gz = join(dir, 'bomb-gzip.aci');
    const xz = join(dir, 'bomb-xz.aci');
    const xattrs = join(dir, 'bomb-xattrs.aci');
    const unpacked = {
      gzip: await writeZeroBomb(gz, NAME, 'gzip', 8e6),
      xz: await writeZeroBomb(xz, NAME, 'xz', 5e6),
      xattrs: await writeXattrBomb(xattrs, NAME, 1400, Math.floor(3.9 * 2 ** 20)),
    };
    await gpg.sign(xattrs, trusted);
    const other = await writeAci(join(dir, 'other.aci'), goodImage(NAME));
    const replayed = await readFile(await gpg.sign(other, trusted), 'utf8');
    const strangerAsc = async (file: string): Promise<string> => readFile(await gpg.sign(file, stranger, `${file}.stranger.asc`), 'utf8');
    const signatures = {
      'garbage .asc': { gzip: GARBAGE_ASC, xz: GARBAGE_ASC, expect: /is not an armored OpenPGP signature/ },
      'untrusted key': { gzip: await strangerAsc(gz), xz: await strangerAsc(xz), expect: /which is not trusted for any image name/ },
      'replayed signature': { gzip: replayed, xz: replayed, expect: /does not match the image/ },
    };

    const out = execFileSync(sandbox, ['up', dir], { encoding: 'utf8' });
    cleanups.push(() => execFileSync(sandbox, ['down', dir]));
    const env: NodeJS.ProcessEnv = { ...process.env, HOST_AGENT_BUS: 'session' };
    for (const m of out.matchAll(/^export (\w+)='([^']*)'$/gm)) env[m[1]!] = m[2]!;
    const { NODE_EXTRA_CA_CERTS: _sandboxOnly, ...hostEnv } = env;
    await writeFile(join(dir, 'cloud-config.yaml'), '#cloud-config\n');
    agent = spawn(process.execPath, [AGENTD, '--user', `--config=${dir}/cloud-config.yaml`, `--config-dir=${dir}/config.d`, `--system-config-dir=${dir}/none.d`,
      `--state-dir=${dir}/state`, `--host-root=${dir}/root`, `--trust-dir=${trustDir}`, `--system-trust-dir=${dir}/trust-system`],
    { env: hostEnv, stdio: 'ignore' });
    await waitForAgent(env);
    const pid = agent.pid!;

    let serial = 0;
    /** FetchImage of `file` through agentd: resolves with the wall ms; the refusal (its one line) must match `expect`. */
    const refuse = async (file: string, expect: RegExp): Promise<number> => {
      const start = process.hrtime.bigint();
      const error = await callMethod({
        bus: 'session', env, destination: AGENT_BUS_NAME, path: AGENT_OBJECT_PATH, interface: AGENT_INTERFACE, member: 'FetchImage',
        signature: 's', body: [JSON.stringify({ image: file, insecureOptions: [], requestId: `bench-${serial++}` })], timeoutMs: 600_000,
      }).then(() => undefined, (e: Error) => e);
      const took = ms(start);
      if (!error || !expect.test(error.message)) throw new Error(`expected ${expect} for ${file}, got ${error ? error.message : 'success'}`);
      return took;
    };

    // (b) first, so that agentd's high-water mark is this refusal's.
    const idleKb = await statusKb(pid, 'VmRSS');
    const xattrMs = await refuse(xattrs, /carries \d+ bytes of metadata/);
    const peakMb = (await statusKb(pid, 'VmHWM')) / 1024;

    // (a)
    let met = true;
    for (const [kind, file] of [['gzip', gz], ['xz', xz]] as const) {
      const size = (await stat(file)).size;
      const cat = timeCommand('cat FILE > /dev/null', ['cat', file]);
      const sha = timeCommand('sha512sum FILE', ['sha512sum', file]);
      const samples: Sample[] = [];
      for (const [what, sig] of Object.entries(signatures)) {
        await writeFile(`${file}.asc`, sig[kind]);
        await refuse(file, sig.expect); // warm-up
        const sample: Sample = { name: `agentd refuses: ${what}`, runs: [] };
        for (let i = 0; i < RUNS; i++) sample.runs.push(await refuse(file, sig.expect));
        samples.push(sample);
      }
      const title = `refusing a ${(size / 1e6).toFixed(1)} MB ${kind} bomb (${(unpacked[kind] / 2 ** 30).toFixed(0)} GiB of tar) with a bad signature (median of ${RUNS})`;
      met = report(title, cat, [sha, ...samples], { sample: 'agentd refuses: garbage .asc', maxRatio: MAX_RATIO }) && met;
      const untrusted = median(samples[1]!.runs) / median(cat.runs);
      const okUntrusted = untrusted <= MAX_RATIO;
      console.log(`target: agentd refuses: untrusted key within ${MAX_RATIO}× of cat: ${untrusted.toFixed(2)}× ${okUntrusted ? 'MET' : 'MISSED'}`);
      console.log(`(replayed signature: ${(median(samples[2]!.runs) / median(sha.runs)).toFixed(2)}× sha512sum of the same file; informational)`);
      met = met && okUntrusted;
    }

    const rssOk = peakMb < MAX_RSS_MB;
    const xattrSize = (await stat(xattrs)).size;
    console.log(`\nxattr bomb: ${(xattrSize / 1e6).toFixed(1)} MB signed image, 1400 PAX headers of 3.9 MiB (${(unpacked.xattrs / 2 ** 30).toFixed(1)} GiB of tar)`);
    console.log(`agentd refused it in ${xattrMs.toFixed(0)} ms; RSS idle ${(idleKb / 1024).toFixed(1)} MB, peak (VmHWM) ${peakMb.toFixed(1)} MB; target < ${MAX_RSS_MB} MB: ${rssOk ? 'MET' : 'MISSED'}`);
    return met && rssOk;
  } finally {
    if (agent && agent.exitCode === null && agent.signalCode === null) agent.kill('SIGTERM');
    for (const fn of cleanups.reverse()) await fn();
    await rm(dir, { recursive: true, force: true });
  }
}
