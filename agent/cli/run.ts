/**
 * agentctl's argument handling: finds the verb, parses its options (plus the global
 * ones), runs it, and turns every error into one line and an exit code: 2 for usage
 * errors, 3 when the agent is not running (as systemctl does), 1 for other failures.
 * It loads only what every verb needs: a verb's module and its dependencies are loaded
 * when it runs (node's module loading is most of a short call's time).
 */
import { parseArgs } from 'node:util';
import type { BusKind } from '../api/agent1.js';
import { AgentError, describeError, isAgentError } from '../core/errors.js';
import { busKindFromEnv } from '../host/bus/address.js';
import { EXIT, type CliContext, type Verb } from './verb.js';
import { VERBS, findVerb, type VerbEntry } from './verbs/index.js';

const GLOBAL_OPTIONS = {
  user: { type: 'boolean' },
  system: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const GLOBAL_HELP = `  --user        talk to the agent on the session bus (sandboxes, tests)
  --system      talk to the agent on the system bus (the default; HOST_AGENT_BUS sets it)
  -h, --help    show help
`;

function mainUsage(): string {
  const width = Math.max(...VERBS.map((v) => v.name.length));
  return `Usage: agentctl [--user|--system] VERB [OPTIONS]

Verbs:
${VERBS.map((v) => `  ${v.name.padEnd(width)}  ${v.summary}`).join('\n')}

Options:
${GLOBAL_HELP}  --version     print the version

Run "agentctl VERB --help" for the options of a verb.
`;
}

function verbUsage(entry: VerbEntry, verb: Verb): string {
  return `Usage: agentctl ${verb.name}${verb.synopsis ? ' ' + verb.synopsis : ''}

${entry.summary}.

Options:
${verb.help}${GLOBAL_HELP}`;
}

function usageError(message: string, hint: string): AgentError {
  return new AgentError({ code: 'cli.usage', message, hint });
}

export async function runCli(argv: string[], io: Pick<CliContext, 'stdout' | 'stderr' | 'env'> & { isTTY: boolean }): Promise<number> {
  try {
    const verbIndex = argv.findIndex((a) => !a.startsWith('-'));
    if (verbIndex < 0) {
      if (argv.includes('--version')) {
        const { packageVersion } = await import('../host/version.js');
        io.stdout.write(`agentctl ${packageVersion()}\n`);
        return EXIT.ok;
      }
      if (argv.length === 0 || argv.includes('--help') || argv.includes('-h')) {
        io.stdout.write(mainUsage());
        return argv.length === 0 ? EXIT.usage : EXIT.ok;
      }
      throw usageError(`unknown option ${argv[0]}`, 'See agentctl --help');
    }
    const name = argv[verbIndex]!;
    const entry = findVerb(name);
    if (!entry) throw usageError(`unknown verb "${name}"`, `Verbs: ${VERBS.map((v) => v.name).join(', ')}`);
    const verb = await entry.load();
    const rest = [...argv.slice(0, verbIndex), ...argv.slice(verbIndex + 1)];
    let parsed;
    try {
      parsed = parseArgs({ args: rest, options: { ...GLOBAL_OPTIONS, ...verb.options }, allowPositionals: true, strict: true });
    } catch (e) {
      throw usageError((e as Error).message.split('. To specify')[0]!.replace(/\.$/, ''), `See agentctl ${verb.name} --help`);
    }
    if (parsed.values.help) {
      io.stdout.write(verbUsage(entry, verb));
      return EXIT.ok;
    }
    const { min, max } = verb.positionals;
    if (parsed.positionals.length < min || parsed.positionals.length > max) {
      throw usageError(`${verb.name} takes ${min === max ? min : `${min} to ${max}`} argument(s), got ${parsed.positionals.length}`,
        `Usage: agentctl ${verb.name} ${verb.synopsis}`);
    }
    const bus: BusKind = parsed.values.user ? 'session' : parsed.values.system ? 'system' : busKindFromEnv(io.env);
    const ctx: CliContext = {
      bus, env: io.env, get stdout() { return io.stdout; }, get stderr() { return io.stderr; }, color: io.isTTY && !io.env.NO_COLOR,
    };
    return await verb.run(ctx, parsed);
  } catch (e) {
    io.stderr.write(`agentctl: ${describeError(e)}\n`);
    if (isAgentError(e, 'cli.usage')) return EXIT.usage;
    if (isAgentError(e, 'cli.agent-not-running')) return EXIT.notRunning;
    return EXIT.failure;
  }
}

