/**
 * Timing and reporting for benchmarks: wall time of commands over repeated runs (and their
 * peak RSS), the median, and a ratio against a baseline measured in the same run.
 */
import { spawn, spawnSync } from 'node:child_process';

export interface Sample {
  name: string;
  runs: number[];
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Run a command `times` times (after one warm-up run), returning wall times in ms. */
export function timeCommand(name: string, argv: string[], env: NodeJS.ProcessEnv, times: number, okCodes = [0]): Sample {
  const runOnce = (): number => {
    const start = process.hrtime.bigint();
    const r = spawnSync(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'ignore', 'pipe'] });
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    if (!okCodes.includes(r.status ?? -1)) throw new Error(`${argv.join(' ')} exited ${r.status}: ${r.stderr}`);
    return ms;
  };
  runOnce();
  return { name, runs: Array.from({ length: times }, runOnce) };
}

export function report(title: string, baseline: Sample, others: Sample[], target?: { sample: string; maxRatio: number }): boolean {
  const base = median(baseline.runs);
  console.log(`\n${title}`);
  console.log(`${'command'.padEnd(34)} ${'median ms'.padStart(10)} ${'ratio'.padStart(7)}`);
  for (const s of [baseline, ...others]) {
    console.log(`${s.name.padEnd(34)} ${median(s.runs).toFixed(1).padStart(10)} ${(median(s.runs) / base).toFixed(2).padStart(6)}×`);
  }
  if (!target) return true;
  const sample = others.find((s) => s.name === target.sample)!;
  const ratio = median(sample.runs) / base;
  const ok = ratio <= target.maxRatio;
  console.log(`target: ${target.sample} within ${target.maxRatio}× of ${baseline.name}: ${ratio.toFixed(2)}× ${ok ? 'MET' : 'MISSED'}`);
  return ok;
}

/**
 * Runs `argv` under /usr/bin/time (apt `time`); resolves with wall ms and max RSS in MB.
 * Asynchronous, so that a server in the benchmark's own process keeps serving.
 */
export function timeWithRss(argv: string[], env: NodeJS.ProcessEnv): Promise<{ ms: number; rssMb: number }> {
  const start = process.hrtime.bigint();
  const child = spawn('/usr/bin/time', ['-f', 'maxrss-kb=%M', ...argv], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      if (code !== 0) return reject(new Error(`${argv.join(' ')} exited ${code}: ${stderr}`));
      resolve({ ms, rssMb: Number(/maxrss-kb=(\d+)/.exec(stderr)?.[1] ?? NaN) / 1024 });
    });
  });
}
