/**
 * Container networks (issue 15), each against a baseline in the same run, on a sandbox
 * systemd (a declared network's helper from dist/, as a host runs it):
 *   (a) start latency of one container on the default network (the built-in macvlan
 *       network the unit sets up itself) vs `network: host`; target ≤ +30 ms (reported as
 *       the difference of the medians);
 *   (b) 50 containers on the default network started together vs 50 on the host's
 *       network, median of 3 alternating rounds; target 1.5×.
 * Traffic: none (interfaces and subnets of the bench's own, removed at the end).
 */
import { join } from 'node:path';
import type { ContainerSpec } from '../agent/core/containers/spec.js';
import { makeWorld } from '../test/integration/containers/world.js';
import { REPO } from '../test/lib/repo.js';
import { median, report, type Sample } from './lib/measure.js';

const RUNS = Number(process.env.BENCH_NET_RUNS ?? 10);
const SCALE = Number(process.env.BENCH_NET_SCALE ?? 50);
const ROUNDS = Number(process.env.BENCH_NET_ROUNDS ?? 3);
const ms = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1e6;

export async function run(): Promise<boolean> {
  const cleanups: Array<() => unknown> = [];
  const w = await makeWorld({ after: (fn) => cleanups.push(fn) }, { network: true, helper: [process.execPath, join(REPO, 'dist/agent/net-helper.js')] });
  try {
    const spec = (name: string, network: ContainerSpec['network']): ContainerSpec => w.spec(name, { exec: ['/bin/sh', '-c', 'exec sleep 600'], network: network! });
    const install = async (specs: ContainerSpec[]): Promise<string[]> => {
      const units: string[] = [];
      for (const s of specs) {
        const rendered = await w.units.render(s);
        await w.units.install(s.name, rendered, s.image.layers);
        units.push(rendered.unit);
      }
      await w.systemd.daemonReload();
      return units;
    };
    const startLatency = async (name: string, container: string, network: ContainerSpec['network']): Promise<Sample> => {
      const [unit] = await install([spec(container, network)]);
      const runs: number[] = [];
      for (let i = 0; i <= RUNS; i++) {
        const start = process.hrtime.bigint();
        await w.systemd.start(unit!);
        if (i > 0) runs.push(ms(start)); // the first run warms caches
        await w.systemd.stop(unit!);
        await w.systemd.resetFailed(unit!);
      }
      return { name, runs };
    };
    const host = await startLatency('start, network host', 'on-host', { mode: 'host' });
    const def = await startLatency('start, default network', 'on-default', { mode: 'default', dns: [] });
    const a = report('(a) container start: default network vs network host', host, [def]);
    const extra = median(def.runs) - median(host.runs);
    const aMet = extra <= 30;
    console.log(`target: default network adds ≤ 30 ms: +${extra.toFixed(1)} ms ${aMet ? 'MET' : 'MISSED'}`);

    // Alternating rounds (median of BENCH_NET_ROUNDS): one burst is one sample, and a
    // burst of 50 on 2 cores is easily moved by anything else the machine does.
    const flat: Sample = { name: `${SCALE} started, network host`, runs: [] };
    const bridged: Sample = { name: `${SCALE} started, default network`, runs: [] };
    const sets = [
      { sample: flat, units: await install(Array.from({ length: SCALE }, (_, i) => spec(`flat${i}`, { mode: 'host' }))) },
      { sample: bridged, units: await install(Array.from({ length: SCALE }, (_, i) => spec(`bridged${i}`, { mode: 'default', dns: [] }))) },
    ];
    for (let round = 0; round < ROUNDS; round++) {
      for (const { sample, units } of sets) {
        const start = process.hrtime.bigint();
        await Promise.all(units.map((u) => w.systemd.start(u)));
        sample.runs.push(ms(start));
        await Promise.all(units.map((u) => w.systemd.stop(u)));
      }
    }
    const b = report(`(b) ${SCALE} containers on the default network vs on the host's network`, flat, [bridged], { sample: bridged.name, maxRatio: 1.5 });
    const leftovers = await w.net!.leftovers([...Array.from({ length: SCALE }, (_, i) => `bridged${i}`), 'on-default']);
    if (leftovers.length > 0) console.log(`left behind: ${leftovers.join('; ')}`);
    return a && aMet && b && leftovers.length === 0;
  } finally {
    for (const u of await w.systemd.listUnits(['container-*.service']).catch(() => [])) await w.systemd.stop(u.name).catch(() => undefined);
    for (const fn of cleanups) await fn();
  }
}
