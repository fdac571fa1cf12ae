/**
 * agentctl run IMAGE [--name N] [--network NET] [-p HOST:CONTAINER]… [-- ARGS…]: the rkt
 * `run` experience (and podman's `--network` and `--publish`). agentd runs the
 * image once as a transient unit supervised by systemd; agentctl stays attached, copying
 * the payload's output until it ends, and exits with the payload's exit status. Ctrl-C
 * detaches (the container keeps running: `agentctl stop NAME`).
 */
import { open } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import type { RunRequest, RunResult } from '../../api/agent1.js';
import { callAgent } from '../agent-client.js';
import { AgentError } from '../../core/errors.js';
import { parsePublish } from '../../core/network/ports.js';
import { EXIT, type CliContext, type Verb } from '../verb.js';
import { fetchContainers } from './containers.js';

const POLL_MS = 200;

/** Copies what was appended to `file` since `offset`; returns the new offset. */
async function copyNew(ctx: CliContext, file: string, offset: number): Promise<number> {
  const handle = await open(file, 'r').catch(() => undefined);
  if (!handle) return offset;
  try {
    const { size } = await handle.stat();
    if (size <= offset) return offset;
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(size - offset), 0, size - offset, offset);
    ctx.stdout.write(buffer.subarray(0, bytesRead));
    return offset + bytesRead;
  } finally {
    await handle.close();
  }
}

/** Waits for the run to end; its exit status (0 once the unit is gone or stopped cleanly). */
async function attach(ctx: CliContext, run: RunResult): Promise<number> {
  let offset = 0;
  const journal = run.outputFile === undefined
    ? spawn('journalctl', [ctx.bus === 'session' ? '--user-unit' : '--unit', run.unit, '-f', '-n', 'all', '--no-pager', '-o', 'cat'], { stdio: ['ignore', 'pipe', 'ignore'] })
    : undefined;
  journal?.stdout.pipe(ctx.stdout, { end: false });
  let detached = false;
  const detach = (): void => { detached = true; };
  process.once('SIGINT', detach);
  try {
    for (;;) {
      if (run.outputFile !== undefined) offset = await copyNew(ctx, run.outputFile, offset);
      const c = (await fetchContainers(ctx)).find((x) => x.name === run.name);
      const ended = c?.kind !== 'run' || !['running', 'starting', 'stopping'].includes(c.state);
      if (ended || detached) {
        if (run.outputFile !== undefined) await copyNew(ctx, run.outputFile, offset);
        if (detached && !ended) {
          ctx.stderr.write(`detached; ${run.name} keeps running (agentctl stop ${run.name})\n`);
          return EXIT.ok;
        }
        return c?.kind === 'run' && c.state === 'failed' ? (c.exitStatus ?? EXIT.failure) : EXIT.ok;
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  } finally {
    process.removeListener('SIGINT', detach);
    journal?.kill('SIGTERM');
  }
}

export const runVerb: Verb = {
  name: 'run',
  synopsis: 'IMAGE [--name NAME] [--network NET] [-p HOST:CONTAINER[/udp]]… [--detach] [-- ARGS…]',
  help: `  --name NAME      name of the container (an AC Name; default run-<random>)
  --network NET    default (a private network of its own), host (the host's; the default),
                   none (loopback only) or a network of host-agent.networks
  -p, --publish HOST:CONTAINER[/tcp|/udp]
                   forward a host port to the run (repeatable; a network of its own);
                   refused when another container forwards it or the host listens on it
  --detach         return once the payload runs
`,
  options: { name: { type: 'string' }, network: { type: 'string' }, publish: { type: 'string', short: 'p', multiple: true }, detach: { type: 'boolean', short: 'd' } },
  positionals: { min: 1, max: Number.MAX_SAFE_INTEGER },
  async run(ctx, { positionals, values }) {
    const [image, ...exec] = positionals as [string, ...string[]];
    const ports = ((values.publish ?? []) as string[]).map((text) => {
      const port = parsePublish(text);
      if (typeof port === 'string') throw new AgentError({ code: 'cli.usage', message: port, hint: 'See agentctl run --help' });
      return port;
    });
    const request: RunRequest = {
      image, ...(typeof values.name === 'string' && { name: values.name }), ...(exec.length > 0 && { exec }),
      ...(typeof values.network === 'string' && { network: values.network }), ...(ports.length > 0 && { ports }),
    };
    const [json] = await callAgent(ctx, 'RunContainer', [JSON.stringify(request)], { timeoutMs: 120_000 });
    const run = JSON.parse(json as string) as RunResult;
    if (values.detach) {
      ctx.stdout.write(`${run.name}\n`);
      return EXIT.ok;
    }
    return attach(ctx, run);
  },
};
