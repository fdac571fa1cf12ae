/**
 * agentctl's help texts, all made from the verb table (verbs/index.ts) and each verb's
 * synopsis, options and help lines: `agentctl --help`, `agentctl VERB --help`,
 * `agentctl VERB SUB --help`, and the man page (man.ts) read the same sources.
 */
import type { Verb } from './verb.js';
import type { VerbEntry } from './verbs/index.js';

/** The options every verb takes: [flag, help text]. */
export const GLOBAL_OPTION_LINES: ReadonlyArray<readonly [string, string]> = [
  ['--user', 'talk to the agent on the session bus (sandboxes, tests)'],
  ['--system', 'talk to the agent on the system bus (the default; HOST_AGENT_BUS sets it)'],
  ['-h, --help', 'show help'],
];

export const GLOBAL_OPTIONS: Verb['options'] = {
  user: { type: 'boolean' },
  system: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

/** The long and short flags of an options table, as typed (`--json`, `-f`). */
export function optionFlags(options: Verb['options']): string[] {
  return Object.entries(options).flatMap(([name, o]) => [`--${name}`, ...(o.short ? [`-${o.short}`] : [])]);
}

function optionLines(lines: ReadonlyArray<readonly [string, string]>): string {
  return lines.map(([flag, text]) => `  ${flag.padEnd(12)}  ${text}\n`).join('');
}

export function mainUsage(verbs: readonly VerbEntry[]): string {
  const shown = verbs.filter((v) => !v.hidden);
  const width = Math.max(...shown.map((v) => v.name.length));
  return `Usage: agentctl [--user|--system] VERB [OPTIONS]

Verbs:
${shown.map((v) => `  ${v.name.padEnd(width)}  ${v.summary}`).join('\n')}

Options:
${optionLines([...GLOBAL_OPTION_LINES, ['--version', 'print the version']])}
Run "agentctl help VERB" or "agentctl VERB --help" for the options of a verb.
`;
}

/** One entry of a help text: its term (`-f, --follow`, `list [--json]`) and its lines. */
export interface HelpEntry {
  term: string;
  text: string[];
}

/**
 * A verb's help text as entries. A line with two spaces, a term, two or more spaces and
 * text starts an entry; a more indented line continues it; any other line is prose
 * (term ''), continued by the lines after it.
 */
export function helpEntries(help: string): HelpEntry[] {
  const entries: HelpEntry[] = [];
  for (const line of help.split('\n')) {
    if (line.trim() === '') continue;
    const head = /^ {2}(\S(?:\S| (?! ))*) {2,}(\S.*)$/.exec(line);
    const last = entries[entries.length - 1];
    if (head) entries.push({ term: head[1]!, text: [head[2]!] });
    else if (last && (/^ {3,}\S/.test(line) || last.term === '')) last.text.push(line.trim());
    else entries.push({ term: '', text: [line.trim()] });
  }
  return entries;
}

export function verbUsage(entry: VerbEntry, verb: Verb): string {
  return `Usage: agentctl ${verb.name}${verb.synopsis ? ' ' + verb.synopsis : ''}

${entry.summary}.

Options:
${verb.help}${optionLines(GLOBAL_OPTION_LINES)}`;
}

/** `agentctl VERB SUB --help`: the sub-verb's synopsis and lines, and the options. */
export function subverbUsage(entry: VerbEntry, verb: Verb, sub: string): string {
  const synopsis = verb.synopsis.split(' | ').find((s) => s.split(' ')[0] === sub) ?? sub;
  const entries = helpEntries(verb.help);
  const own = entries.filter((e) => e.term.split(' ')[0] === sub);
  // Options, less those marked for other sub-verbs: "(status) KEY=value lines".
  const forSub = (e: HelpEntry): boolean => { const only = /^\(([^)]*)\)/.exec(e.text[0]!); return !only || only[1]!.split(/[ ,]+/).includes(sub); };
  const options = entries.filter((e) => e.term.startsWith('-') && forSub(e));
  const show = (e: HelpEntry): string => `  ${e.term.padEnd(22)}  ${e.text.join(' ')}\n`;
  return `Usage: agentctl ${verb.name} ${synopsis}

${own.map((e) => e.text.join(' ')).join('\n') || `${entry.summary}.`}

Options:
${options.map(show).join('')}${optionLines(GLOBAL_OPTION_LINES)}`;
}

/** "takes 1 argument", "takes 1 to 2 arguments", "takes at least 1 argument". */
export function argumentCount({ min, max }: Verb['positionals']): string {
  const plural = (n: number): string => `${n} argument${n === 1 ? '' : 's'}`;
  if (max >= Number.MAX_SAFE_INTEGER) return `at least ${plural(min)}`;
  if (min === max) return min === 0 ? 'no arguments' : plural(min);
  return `${min} to ${plural(max)}`;
}
