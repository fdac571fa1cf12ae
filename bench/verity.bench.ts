/**
 * Staging a 1 GiB USR image with its dm-verity hash tree appended (veritysetup format,
 * fixed salt) from loopback HTTP, with the agent's stager (download → sha512 → write,
 * fsync, read-back check, `veritysetup verify` against the signed root hash, boot entry,
 * promote), against `curl | tee >(sha512sum) | dd` of the same bytes into the same slot
 * followed by `losetup` + `veritysetup verify` of that slot, in the same run. Target: within
 * 1.2× of the pipeline (wall time). The CPU time (user + system) of both sides is printed
 * too: on a loaded machine it is the steadier figure. The stager runs in a child process
 * (this file with `--stage`), as in os-update.bench.ts.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { makeDisk } from '../test/lib/disk.js';
import { TEST_SALT } from '../test/lib/verity.js';
import { parseRelease } from '../agent/core/update/release.js';
import { resolveUpdatePaths } from '../agent/host/update/paths.js';
import { stageRelease } from '../agent/host/update/stage.js';
import { median, report, type Sample } from './lib/measure.js';
import { fileServer, makePayload } from './lib/payload.js';
import type { StageChildArgs } from './lib/stage-child.js';
import type { SignedRelease } from '../agent/host/update/channel.js';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const RUNS = 5;
const MAX_RATIO = 1.2;
const SELF = fileURLToPath(import.meta.url);
const exec = promisify(execFile);

/** CPU ms of the processes this one has waited for (veritysetup, losetup), from /proc/self/stat (clock ticks of 10 ms). */
async function childrenCpu(): Promise<number> {
  const fields = (await readFile('/proc/self/stat', 'utf8')).replace(/^.*\) /s, '').split(' ');
  return (Number(fields[13]) + Number(fields[14])) * 10; // cutime, cstime (fields 16, 17)
}

/** In the child: stage once, print `{ms, cpuMs}` (its own CPU and its children's, startup excluded). */
async function stageChild(args: StageChildArgs): Promise<void> {
  const { signed, ...paths } = args;
  const cpu = process.cpuUsage();
  const children = await childrenCpu();
  const started = process.hrtime.bigint();
  await stageRelease(signed, { paths: resolveUpdatePaths(paths) });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const own = process.cpuUsage(cpu);
  process.stdout.write(`${JSON.stringify({ ms, cpuMs: (own.user + own.system) / 1000 + (await childrenCpu()) - children })}\n`);
}

/** User + system ms of a shell's children, from the second line of bash's `times` at the end of `stdout` (the pipeline). */
function childrenCpuMs(stdout: string): number {
  const lines = stdout.trim().split('\n');
  const [user, sys] = lines.at(-1)!.trim().split(/\s+/).map((t) => {
    const m = /^(\d+)m([\d.]+)s$/.exec(t)!;
    return (Number(m[1]) * 60 + Number(m[2])) * 1000;
  }) as [number, number];
  return user + sys;
}

async function sha512Of(path: string): Promise<string> {
  const hash = createHash('sha512');
  for await (const piece of createReadStream(path, { highWaterMark: MiB })) hash.update(piece as Buffer);
  return hash.digest('hex');
}

export async function run(): Promise<boolean> {
  const dir = await mkdtemp(join(tmpdir(), 'host-agent-bench-verity-'));
  const server = fileServer(join(dir, 'www'));
  try {
    await mkdir(join(dir, 'www'));
    const image = join(dir, 'www', 'usr.img');
    await makePayload(image, GiB);
    const dataBlocks = GiB / 4096;
    const { stdout } = await exec('veritysetup', ['format', image, image, `--hash-offset=${GiB}`, `--data-blocks=${dataBlocks}`, `--salt=${TEST_SALT}`]);
    const rootHash = /^Root hash:\s+([0-9a-f]+)$/m.exec(stdout)![1]!;
    const size = (await stat(image)).size;
    const disk = await makeDisk(dir, 1024 + 16, 'disk.img'); // sparse: only what is written takes space
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/usr.img`;
    const cmdlinePath = join(dir, 'cmdline');
    await writeFile(cmdlinePath, `mount.usr=PARTUUID=${disk.partUuid.A}\n`);
    const verity = { rootHash, salt: TEST_SALT, dataBlocks, hashTree: 'appended', hashOffset: GiB };
    const release = parseRelease({ version: '2.0.0', expires: '2099-01-01T00:00:00Z', payload: { url, size, sha512: await sha512Of(image), verity } }, url);
    const signed: SignedRelease = { release, payloadUrl: url, signedBy: 'bench' };

    const ours: Sample = { name: 'agent stager + verity (1 GiB)', runs: [] };
    const oursCpu: number[] = [];
    const pipelineCpu: number[] = [];
    const pipeline: Sample = { name: 'curl|tee|dd; veritysetup verify', runs: [] };
    for (let i = 0; i < RUNS; i++) {
      const args: StageChildArgs = { signed, disk: disk.path, cmdlinePath, stateDir: join(dir, `state-${i}`), rebootRequiredPath: join(dir, 'reboot-required') };
      const child = await exec(process.execPath, ['--import', 'tsx', SELF, '--stage', JSON.stringify(args)]);
      const result = JSON.parse(child.stdout) as { ms: number; cpuMs: number };
      ours.runs.push(result.ms);
      oursCpu.push(result.cpuMs);

      const started = process.hrtime.bigint();
      const base = await exec('bash', ['-c',
        '{ set -o pipefail; curl -s "$1" | tee >(sha512sum >/dev/null) | dd of="$2" bs=1M seek="$3" oflag=seek_bytes conv=notrunc status=none && ' +
        'loop=$(losetup --find --show --read-only --offset "$3" --sizelimit "$4" "$2") && ' +
        '{ veritysetup verify "$loop" "$loop" "$5" --hash-offset="$6"; rc=$?; losetup --detach "$loop"; [ $rc = 0 ]; }; } && times',
        'bash', url, disk.path, String(disk.offset.B), String(size), rootHash, String(GiB)]);
      pipeline.runs.push(Number(process.hrtime.bigint() - started) / 1e6);
      pipelineCpu.push(childrenCpuMs(base.stdout));
    }
    const met = report(`OS update staging with dm-verity, 1 GiB + tree from loopback HTTP (median of ${RUNS})`, pipeline, [ours], { sample: ours.name, maxRatio: MAX_RATIO });
    console.log(`runs (ms): agent ${ours.runs.map((r) => r.toFixed(0)).join(', ')}; pipeline ${pipeline.runs.map((r) => r.toFixed(0)).join(', ')}`);
    console.log(`CPU (user+sys of the staging processes and their children, median ms): agent ${median(oursCpu).toFixed(0)}, pipeline ${median(pipelineCpu).toFixed(0)}: ${(median(oursCpu) / median(pipelineCpu)).toFixed(2)}× (the HTTP server's CPU is in neither)`);
    return met;
  } finally {
    server.closeAllConnections();
    server.close();
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === SELF && process.argv[2] === '--stage') await stageChild(JSON.parse(process.argv[3]!) as StageChildArgs);
