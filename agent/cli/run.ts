/**
 * agentctl's argument handling: finds the verb, parses its options (plus the global
 * ones), runs it, and turns every error into one line and an exit code: 2 for usage
 * errors (with "did you mean" for a mistyped verb, sub-verb or option), 3 when the agent
 * is not running (as systemctl does), 1 for other failures.
 * It loads only what every verb needs: a verb's module and its dependencies are loaded
 * when it runs (node's module loading is most of a short call's time).
 */
import { parseArgs } from 'node:util';
import type { BusKind } from '../api/agent1.js';
import { AgentError, describeError, isAgentError } from '../core/errors.js';
import { busKindFromEnv } from '../host/bus/address.js';
import { didYouMean } from './suggest.js';
import { GLOBAL_OPTIONS, argumentCount, mainUsage, optionFlags, subverbUsage, verbUsage } from './usage.js';
import { EXIT, type CliContext, type Verb, type VerbArgs } from './verb.js';
import { VERBS, findVerb } from './verbs/index.js';

function usageError(message: string, hint: string): AgentError {
  return new AgentError({ code: 'cli.usage', message, hint });
}

function parseVerbArgs(verb: Verb, args: string[]): VerbArgs {
  try {
    return parseArgs({ args, options: { ...GLOBAL_OPTIONS, ...verb.options }, allowPositionals: true, strict: true }) as VerbArgs;
  } catch (e) {
    const message = (e as Error).message;
    const unknown = /^Unknown option '(-[^']*)'/.exec(message);
    if (unknown) {
      const flag = unknown[1]!;
      throw usageError(`${verb.name} has no option ${flag}`, `${didYouMean(flag, optionFlags({ ...GLOBAL_OPTIONS, ...verb.options }), (s) => s)}See agentctl ${verb.name} --help`);
    }
    const ambiguous = /^Option '(-[^']*)' argument is ambiguous/.exec(message);
    if (ambiguous) throw usageError(`the value given to ${ambiguous[1]} starts with "-"`, `Write it as ${ambiguous[1]}=VALUE (e.g. --since=-1h)`);
    throw usageError(message.split('\n')[0]!.split('. To specify')[0]!.replace(/\.$/, ''), `See agentctl ${verb.name} --help`);
  }
}

export async function runCli(argv: string[], io: Pick<CliContext, 'stdout' | 'stderr' | 'env'> & { isTTY: boolean }): Promise<number> {
  try {
    const verbIndex = argv.findIndex((a) => !a.startsWith('-'));
    if (verbIndex < 0) {
      if (argv.includes('--version')) return await runCli(['version'], io);
      if (argv.length === 0 || argv.includes('--help') || argv.includes('-h')) {
        io.stdout.write(mainUsage(VERBS));
        return argv.length === 0 ? EXIT.usage : EXIT.ok;
      }
      throw usageError(`unknown option ${argv[0]}`, `${didYouMean(argv[0]!, ['--help', '--version', '--user', '--system'], (s) => s)}See agentctl --help`);
    }
    const name = argv[verbIndex]!;
    const entry = findVerb(name);
    if (!entry) {
      const names = VERBS.filter((v) => !v.hidden).map((v) => v.name);
      throw usageError(`unknown verb "${name}"`, `${didYouMean(name, names)}See agentctl --help for the verbs`);
    }
    const verb = await entry.load();
    const parsed = parseVerbArgs(verb, [...argv.slice(0, verbIndex), ...argv.slice(verbIndex + 1)]);
    const sub = parsed.positionals[0];
    if (parsed.values.help) {
      io.stdout.write(sub !== undefined && verb.subverbs?.includes(sub) ? subverbUsage(entry, verb, sub) : verbUsage(entry, verb));
      return EXIT.ok;
    }
    if (verb.subverbs && verb.positionals.min > 0 && sub !== undefined && !verb.subverbs.includes(sub)) {
      throw usageError(`unknown sub-verb "${verb.name} ${sub}"`, `${didYouMean(sub, verb.subverbs)}Sub-verbs: ${verb.subverbs.join(', ')}`);
    }
    if (parsed.positionals.length < verb.positionals.min || parsed.positionals.length > verb.positionals.max) {
      throw usageError(`${verb.name} takes ${argumentCount(verb.positionals)}, got ${parsed.positionals.length}`,
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
