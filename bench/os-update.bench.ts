/**
 * Staging a 1 GiB OS payload from loopback HTTP into the inactive slot of a (sparse) GPT
 * disk image with the agent's stager (download → sha512 → write, fsync, read-back check,
 * promote), against `curl -s URL | tee >(sha512sum) | dd of=IMG seek=… conv=notrunc` of
 * the same bytes into the same slot, in the same run. Targets: within 1.2× of the
 * pipeline; peak RSS (VmHWM) of the staging process under 150 MB. The stager runs in a
 * child process (this file with `--stage`) so its VmHWM is its own.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { makeDisk } from '../test/lib/disk.js';
import { resolveUpdatePaths } from '../agent/host/update/paths.js';
import { stageRelease } from '../agent/host/update/stage.js';
import { median, report, type Sample } from './lib/measure.js';
import { fileServer, makePayload } from './lib/payload.js';
import type { StageChildArgs } from './lib/stage-child.js';
import type { SignedRelease } from '../agent/host/update/channel.js';

const GiB = 1024 ** 3;
const RUNS = 5;
const MAX_RATIO = 1.2;
const MAX_HWM_MB = 150;
const SELF = fileURLToPath(import.meta.url);
/** Async: the payload server runs in this process. */
const exec = promisify(execFile);

/** In the child: stage once, print `{ms, hwmKiB}`. */
async function stageChild(args: StageChildArgs): Promise<void> {
  const { signed, ...paths } = args;
  const started = process.hrtime.bigint();
  await stageRelease(signed, { paths: resolveUpdatePaths(paths) });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const hwm = /^VmHWM:\s+(\d+) kB/m.exec(await readFile('/proc/self/status', 'utf8'));
  process.stdout.write(JSON.stringify({ ms, hwmKiB: Number(hwm?.[1] ?? 0) }));
}

export async function run(): Promise<boolean> {
  const dir = await mkdtemp(join(tmpdir(), 'host-agent-bench-update-'));
  const server = fileServer(join(dir, 'www'));
  try {
    await mkdir(join(dir, 'www'));
    const sha512 = await makePayload(join(dir, 'www', 'usr.img'), GiB);
    const disk = await makeDisk(dir, 1024 + 16, 'disk.img'); // sparse: only what is written takes space
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/usr.img`;
    const cmdlinePath = join(dir, 'cmdline');
    await writeFile(cmdlinePath, `mount.usr=PARTUUID=${disk.partUuid.A}\n`);
    const signed: SignedRelease = {
      release: { version: '2.0.0', expires: '2099-01-01T00:00:00Z', payload: { url, size: GiB, sha512, compression: 'none' } },
      payloadUrl: url,
      signedBy: 'bench',
    };

    const ours: Sample = { name: 'agent stager (1 GiB)', runs: [] };
    const pipeline: Sample = { name: 'curl | tee >(sha512sum) | dd', runs: [] };
    const hwms: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const args: StageChildArgs = { signed, disk: disk.path, cmdlinePath, stateDir: join(dir, `state-${i}`), rebootRequiredPath: join(dir, 'reboot-required') };
      const child = await exec(process.execPath, ['--import', 'tsx', SELF, '--stage', JSON.stringify(args)]);
      const result = JSON.parse(child.stdout) as { ms: number; hwmKiB: number };
      ours.runs.push(result.ms);
      hwms.push(result.hwmKiB / 1024);

      const started = process.hrtime.bigint();
      await exec('bash', ['-c',
        `set -o pipefail; curl -s "$1" | tee >(sha512sum >/dev/null) | dd of="$2" bs=1M seek="$3" oflag=seek_bytes conv=notrunc status=none`,
        'bash', url, disk.path, String(disk.offset.B)]);
      pipeline.runs.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
    const met = report(`OS update staging, 1 GiB from loopback HTTP (median of ${RUNS})`, pipeline, [ours], { sample: ours.name, maxRatio: MAX_RATIO });
    const hwm = Math.max(...hwms);
    const hwmOk = hwm < MAX_HWM_MB;
    console.log(`peak RSS (VmHWM) of the staging process: ${hwm.toFixed(1)} MB (runs: ${hwms.map((h) => h.toFixed(1)).join(', ')}), target < ${MAX_HWM_MB} MB: ${hwmOk ? 'MET' : 'MISSED'}`);
    console.log(`throughput: agent ${(1024 / (median(ours.runs) / 1000)).toFixed(0)} MiB/s, pipeline ${(1024 / (median(pipeline.runs) / 1000)).toFixed(0)} MiB/s`);
    return met && hwmOk;
  } finally {
    server.closeAllConnections();
    server.close();
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === SELF && process.argv[2] === '--stage') await stageChild(JSON.parse(process.argv[3]!) as StageChildArgs);
