/**
 * agentctl logs NAME: a container's output, like journalctl: from the journal when the
 * agent's systemd has one (timestamps, --since, -n, -o json, -f), otherwise from the
 * container's output file (no timestamps there: tail). Who may not read it is told in one
 * sentence before anything runs; Ctrl-C ending `-f` exits 130.
 */
import { spawn } from 'node:child_process';
import { access, constants, readFile } from 'node:fs/promises';
import { AgentError } from '../../core/errors.js';
import { EXIT, type CliContext, type Verb } from '../verb.js';
import { findContainer } from './containers.js';

/** Runs `program` with its output copied to the verb's streams; resolves with its exit code (130 after Ctrl-C). */
export function pipeChild(ctx: CliContext, program: string, args: string[], stdin: 'inherit' | 'ignore' = 'ignore'): Promise<number> {
  return new Promise((resolve, reject) => {
    // A terminal keeps its TTY (an interactive shell in `enter`); otherwise output is copied.
    const direct = ctx.stdout === process.stdout && ctx.stderr === process.stderr;
    const child = spawn(program, args, { stdio: [stdin, direct ? 'inherit' : 'pipe', direct ? 'inherit' : 'pipe'], env: ctx.env });
    child.stdout?.pipe(ctx.stdout, { end: false });
    child.stderr?.pipe(ctx.stderr, { end: false });
    let interrupted = false;
    const interrupt = (): void => { interrupted = true; child.kill('SIGTERM'); };
    process.once('SIGINT', interrupt);
    child.on('error', (e) => {
      process.removeListener('SIGINT', interrupt);
      reject(new AgentError({ code: 'cli.exec-failed', message: `cannot run ${program}: ${e.message}`, hint: `Install ${program}`, cause: e }));
    });
    child.on('close', (code, signal) => {
      process.removeListener('SIGINT', interrupt);
      if (interrupted) resolve(EXIT.interrupted);
      else resolve(code ?? (signal === 'SIGTERM' ? EXIT.ok : EXIT.failure));
    });
  });
}

/** Groups whose members read the whole system journal (systemd's journal ACLs). */
export const JOURNAL_GROUPS = ['systemd-journal', 'adm', 'wheel'] as const;

/**
 * Whether a user reads the system journal: root, or a member of one of JOURNAL_GROUPS.
 * `groupFile`: /etc/group's text; `gids`: the process's groups.
 */
export function readsSystemJournal(uid: number, gids: readonly number[], groupFile: string): boolean {
  if (uid === 0) return true;
  const allowed = new Set(groupFile.split('\n').map((l) => l.split(':')).filter((f) => (JOURNAL_GROUPS as readonly string[]).includes(f[0]!)).map((f) => Number(f[2])));
  return gids.some((g) => allowed.has(g));
}

/** journalctl's arguments for a unit's output (pure: tests check them). */
export function journalArgs(o: { unit: string; bus: CliContext['bus']; lines: string | undefined; since: string | undefined; output: string; follow: boolean }): string[] {
  return [
    ...(o.bus === 'session' ? ['--user-unit', o.unit] : ['--unit', o.unit]),
    ...(o.lines !== undefined ? ['-n', o.lines] : o.since === undefined ? ['-n', '100'] : []),
    ...(o.since !== undefined ? ['--since', o.since] : []),
    '--no-pager', '-o', o.output,
    ...(o.follow ? ['-f'] : []),
  ];
}

const OUTPUTS: Record<string, string> = { short: 'short-iso', 'short-iso': 'short-iso', cat: 'cat', json: 'json' };

export const logsVerb: Verb = {
  name: 'logs',
  synopsis: 'NAME [-f] [-n LINES] [--since TIME] [-o short|cat|json]',
  help: `  -f, --follow         keep printing new output until interrupted (Ctrl-C exits 130)
  -n, --lines N        show the last N lines (default 100, or all since --since)
  --since TIME         from TIME on, as journalctl takes it: "2026-01-31 10:00", today,
                       --since=-1h
  -o, --output FORMAT  short (the default: ISO timestamps), cat (the text only) or json
                       (journal entries, one a line)
  Without a journal (a sandbox manager) the output comes from the container's output file,
  without timestamps: --since and -o json need the journal.
  Reading the system journal needs root or the systemd-journal group.
`,
  options: {
    follow: { type: 'boolean', short: 'f' },
    lines: { type: 'string', short: 'n' },
    since: { type: 'string' },
    output: { type: 'string', short: 'o' },
  },
  positionals: { min: 1, max: 1 },
  async run(ctx, { positionals, values }) {
    const lines = values.lines as string | undefined;
    if (lines !== undefined && !/^[0-9]+$/.test(lines)) throw new AgentError({ code: 'cli.usage', message: `--lines ${lines} is not a number`, hint: 'e.g. -n 50' });
    const since = values.since as string | undefined;
    const output = OUTPUTS[(values.output as string | undefined) ?? 'short'];
    if (output === undefined) throw new AgentError({ code: 'cli.usage', message: `-o ${String(values.output)} is not an output format`, hint: 'Use short, cat or json' });
    const c = await findContainer(ctx, positionals[0]!);
    if (c.outputFile !== undefined) {
      if (since !== undefined || output === 'json') {
        throw new AgentError({ code: 'cli.usage', message: `${since !== undefined ? '--since' : '-o json'} needs the journal`, subject: c.name, hint: `This agent writes the output to ${c.outputFile}, without timestamps; use -n and -f` });
      }
      await access(c.outputFile, constants.R_OK).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'EACCES') throw e;
        throw new AgentError({ code: 'cli.access-denied', message: `access denied: run as root to read the output of ${c.name}`, subject: c.outputFile, hint: 'The output file is readable by root only' });
      });
      return pipeChild(ctx, 'tail', ['-n', lines ?? '100', ...(values.follow ? ['-f'] : []), '--', c.outputFile]);
    }
    if (ctx.bus === 'system' && process.getuid && !readsSystemJournal(process.getuid(), process.getgroups?.() ?? [], await readFile('/etc/group', 'utf8').catch(() => ''))) {
      throw new AgentError({
        code: 'cli.access-denied',
        message: `access denied: the output of ${c.name} is in the system journal, which needs root or the systemd-journal group`,
        hint: 'Join it with: sudo usermod -aG systemd-journal $USER (then log in again)',
      });
    }
    return pipeChild(ctx, 'journalctl', journalArgs({ unit: c.unit, bus: ctx.bus, lines, since, output, follow: values.follow === true }));
  },
};
