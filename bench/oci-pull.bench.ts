/**
 * `agentctl fetch docker://…` of a 256 MiB OCI image in 4 gzip layers from a loopback
 * docker-registry (manifest, policy with a signedBy rule and the skopeo-made lookaside
 * signature, config, layers in parallel, digests and diff IDs checked while streaming,
 * extraction into the layer store) against the reference tools doing the same work on the
 * same image in the same run: `skopeo copy` (same policy and registries.d) into an OCI
 * layout, then `umoci unpack`. Targets: within 1.0× of the baseline; peak RSS of the
 * fetching process under 150 MB (/usr/bin/time -f %M). Then a second image sharing 3 of
 * the 4 layers: the layer store gains one layer and the registry serves one layer blob.
 * Every run starts from an empty store / target, after a `sync`; agentctl runs from dist/
 * in direct mode (no agent).
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { REPO } from '../test/lib/repo.js';
import { makeGpg } from '../test/lib/gpg.js';
import { writeOciLayout, type LayerSpec } from '../test/lib/oci-image.js';
import { startRegistry } from '../test/lib/registry.js';
import { median, report, timeWithRss, type Sample } from './lib/measure.js';

const exec = promisify(execFile);
const RUNS = 3;
const LAYER_BYTES = 64 << 20; // 4 × 64 MiB = 256 MiB of content
const MAX_RATIO = 1.0;
const MAX_RSS_MB = 150;

/** A layer holding one file of random bytes, written once so that two images can share the layer. */
async function layer(dir: string, n: number, bytes: number): Promise<LayerSpec> {
  const file = join(dir, `random-${n}`);
  await exec('head', ['-c', String(bytes), '/dev/urandom'], { encoding: 'buffer', maxBuffer: bytes + 1 }).then(({ stdout }) => writeFile(file, stdout));
  return { entries: [{ name: `data-${n}`, content: { file } }] };
}

export async function run(): Promise<boolean> {
  const cleanups: Array<() => unknown> = [];
  const scope = { after: (fn: () => unknown) => cleanups.push(fn) };
  const dir = await mkdtemp(join(tmpdir(), 'host-agent-bench-oci-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  try {
    const gpg = await makeGpg(scope);
    const key = await gpg.newKey('Bench Publisher <bench@example.com>');
    const gpgEnv = { ...process.env, GNUPGHOME: gpg.home };
    const registry = await startRegistry(scope);
    const look = join(dir, 'look');
    const regD = join(dir, 'registries.d');
    await mkdir(look);
    await mkdir(regD);
    await writeFile(join(regD, 'default.yaml'), `default-docker:\n  lookaside: file://${look}\n  lookaside-staging: file://${look}\n`);
    const keyFile = join(dir, 'bench.asc');
    await writeFile(keyFile, key.armored);
    const policy = join(dir, 'policy.json');
    await writeFile(policy, JSON.stringify({ default: [{ type: 'reject' }], transports: { docker: { [registry.host]: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: keyFile }] } } }));

    const layout = join(dir, 'layout');
    const shared = [await layer(dir, 1, LAYER_BYTES), await layer(dir, 2, LAYER_BYTES), await layer(dir, 3, LAYER_BYTES)];
    await writeOciLayout(layout, 'one', { layers: [...shared, await layer(dir, 4, LAYER_BYTES)] });
    await writeOciLayout(layout, 'two', { layers: [...shared, await layer(dir, 5, 1 << 20)] });
    for (const [tag, repo] of [['one', 'bench/app:one'], ['two', 'bench/app:two']] as const) {
      await exec('skopeo', ['copy', '--quiet', '--insecure-policy', '--preserve-digests', '--registries.d', regD, '--dest-tls-verify=false',
        '--sign-by', key.fingerprint, `oci:${layout}:${tag}`, `docker://${registry.host}/${repo}`], { env: gpgEnv, timeout: 600_000 });
    }

    const stateDir = join(dir, 'state');
    const target = join(dir, 'skopeo');
    const ref = `docker://${registry.host}/bench/app:one`;
    const fetchEnv: NodeJS.ProcessEnv = {
      ...process.env, HOST_AGENT_BUS: 'system', DBUS_SYSTEM_BUS_ADDRESS: `unix:path=${join(dir, 'no-bus')}`,
      HOST_AGENT_STATE_DIR: stateDir, HOST_AGENT_TRUST_DIR: join(dir, 'none'), HOST_AGENT_SYSTEM_TRUST_DIR: join(dir, 'none'),
      HOST_AGENT_POLICY: policy, HOST_AGENT_REGISTRIES_D: regD, HOST_AGENT_REGISTRY_AUTH_FILE: join(dir, 'auth.json'),
    };
    const fetchArgv = (image: string) => [process.execPath, join(REPO, 'dist/agent/cli/main.js'), 'fetch', image];
    const rootless = process.getuid?.() === 0 ? [] : ['--rootless'];
    const baselineArgv = ['sh', '-ec',
      `skopeo copy --quiet --policy "$1" --registries.d "$2" --src-tls-verify=false --remove-signatures "$3" "oci:$4/layout:x"; umoci unpack ${rootless.join(' ')} --image "$4/layout:x" "$4/bundle" >/dev/null`,
      'sh', policy, regD, ref, target];

    const ours: Sample = { name: 'agentctl fetch docker:// (256 MiB)', runs: [] };
    const baseline: Sample = { name: 'skopeo copy + umoci unpack', runs: [] };
    const rss: number[] = [];
    for (let i = 0; i <= RUNS; i++) {
      // Interleaved, after one warm-up of each; every run starts empty.
      await rm(stateDir, { recursive: true, force: true });
      await rm(target, { recursive: true, force: true });
      await mkdir(target);
      execFileSync('sync');
      const f = await timeWithRss(fetchArgv(ref), fetchEnv);
      execFileSync('sync');
      const b = await timeWithRss(baselineArgv, gpgEnv);
      if (i === 0) continue;
      ours.runs.push(f.ms);
      baseline.runs.push(b.ms);
      rss.push(f.rssMb);
    }
    const met = report(`OCI pull + verify + unpack of 4 × 64 MiB layers from a loopback registry (median of ${RUNS})`, baseline, [ours], {
      sample: ours.name, maxRatio: MAX_RATIO,
    });
    const peak = Math.max(...rss);
    const rssOk = peak < MAX_RSS_MB;
    console.log(`peak RSS of agentctl fetch docker://: ${peak.toFixed(1)} MB (median ${median(rss).toFixed(1)} MB); target < ${MAX_RSS_MB} MB: ${rssOk ? 'MET' : 'MISSED'}`);

    // The second image: 3 of its 4 layers are stored already.
    const layersDir = join(stateDir, 'layers');
    const countLayers = async (): Promise<number> => (await readdir(layersDir)).filter((n) => n.startsWith('sha256-')).length;
    const logFile = join(dirname(registry.storageDir), 'registry.log');
    const blobGets = async (): Promise<number> => (await readFile(logFile, 'utf8')).split('\n')
      .filter((l) => l.includes('GET /v2/bench/app/blobs/') && !l.includes('"skopeo/')).length;
    const layersBefore = await countLayers();
    const getsBefore = await blobGets();
    const second = await timeWithRss(fetchArgv(`docker://${registry.host}/bench/app:two`), fetchEnv);
    await new Promise((r) => setTimeout(r, 300)); // the registry's log is written a moment later
    const newLayers = (await countLayers()) - layersBefore;
    const gets = (await blobGets()) - getsBefore;
    const sharedOk = newLayers === 1 && gets === 2;
    console.log(`second image sharing 3 of 4 layers: ${newLayers} layer stored, ${gets} blobs fetched (config + layers) in ${second.ms.toFixed(0)} ms; target 1 layer (2 blobs): ${sharedOk ? 'MET' : 'MISSED'}`);
    return met && rssOk && sharedOk;
  } finally {
    for (const fn of cleanups.reverse()) await fn();
  }
}
