/**
 * agentctl logs NAME [-f]: a container's output, from the journal when the agent's
 * systemd has one, otherwise from the container's output file; `-f` follows it.
 */
import { spawn } from 'node:child_process';
import { AgentError } from '../../core/errors.js';
import { EXIT, type CliContext, type Verb } from '../verb.js';
import { findContainer } from './containers.js';

/** Runs `program` with its output copied to the verb's streams; resolves with its exit code. */
export function pipeChild(ctx: CliContext, program: string, args: string[], stdin: 'inherit' | 'ignore' = 'ignore'): Promise<number> {
  return new Promise((resolve, reject) => {
    // A terminal keeps its TTY (an interactive shell in `enter`); otherwise output is copied.
    const direct = ctx.stdout === process.stdout && ctx.stderr === process.stderr;
    const child = spawn(program, args, { stdio: [stdin, direct ? 'inherit' : 'pipe', direct ? 'inherit' : 'pipe'], env: ctx.env });
    child.stdout?.pipe(ctx.stdout, { end: false });
    child.stderr?.pipe(ctx.stderr, { end: false });
    const interrupt = (): void => { child.kill('SIGTERM'); };
    process.once('SIGINT', interrupt);
    child.on('error', (e) => {
      process.removeListener('SIGINT', interrupt);
      reject(new AgentError({ code: 'cli.exec-failed', message: `cannot run ${program}: ${e.message}`, hint: `Install ${program}`, cause: e }));
    });
    child.on('close', (code, signal) => {
      process.removeListener('SIGINT', interrupt);
      resolve(code ?? (signal === 'SIGTERM' ? EXIT.ok : EXIT.failure));
    });
  });
}

export const logsVerb: Verb = {
  name: 'logs',
  synopsis: 'NAME [-f] [-n LINES]',
  help: '  -f, --follow   keep printing new output until interrupted\n  -n, --lines N  show the last N lines (default 100)\n',
  options: { follow: { type: 'boolean', short: 'f' }, lines: { type: 'string', short: 'n' } },
  positionals: { min: 1, max: 1 },
  async run(ctx, { positionals, values }) {
    const c = await findContainer(ctx, positionals[0]!);
    const lines = typeof values.lines === 'string' ? values.lines : '100';
    if (!/^[0-9]+$/.test(lines)) throw new AgentError({ code: 'cli.usage', message: `--lines ${lines} is not a number`, hint: 'e.g. -n 50' });
    const follow = values.follow ? ['-f'] : [];
    if (c.outputFile !== undefined) return pipeChild(ctx, 'tail', ['-n', lines, ...follow, '--', c.outputFile]);
    const unit = ctx.bus === 'session' ? ['--user-unit', c.unit] : ['--unit', c.unit];
    return pipeChild(ctx, 'journalctl', [...unit, '-n', lines, '--no-pager', '-o', 'cat', ...follow]);
  },
};
