/**
 * Shell completion of agentctl: the candidates for the word being typed (verbs,
 * sub-verbs, options, container and image names), from the same verb table as --help,
 * and the bash script that asks `agentctl __complete` for them. The names come from the
 * agent through `sources`, so the logic here is pure.
 */
import { GLOBAL_OPTIONS, optionFlags as flags } from './usage.js';
import type { Verb } from './verb.js';

export type NameKind = 'containers' | 'images';

export interface CompletionSources {
  /** The visible verb names, in table order. */
  verbs: readonly string[];
  loadVerb(name: string): Promise<Verb | undefined>;
  /** Container or image names from the agent; empty when it cannot be asked. */
  names(kind: NameKind): Promise<string[]>;
}

/** What a synopsis argument names: NAME a container, IMAGE or ID|NAME an image. */
export function argumentKind(synopsis: string, sub: string | undefined): NameKind | undefined {
  const alternative = synopsis.split(' | ').find((s) => s.split(' ')[0] === sub) ?? synopsis;
  const args = alternative.split(' ').filter((w) => !w.startsWith('[') && !w.startsWith('-') && w !== sub);
  const first = args[0]?.replace(/…$/, '');
  if (first === 'NAME') return 'containers';
  if (first === 'IMAGE' || first === 'ID|NAME') return 'images';
  return undefined;
}

/**
 * `words`: what follows `agentctl` on the command line up to the cursor; the last one is
 * the word being completed (maybe empty). Returns the candidates that start with it.
 */
export async function completionCandidates(words: readonly string[], sources: CompletionSources): Promise<string[]> {
  const current = words[words.length - 1] ?? '';
  const before = words.slice(0, -1);
  const match = (list: readonly string[]): string[] => [...new Set(list)].filter((c) => c.startsWith(current));
  const verbName = before.find((w) => !w.startsWith('-'));
  if (verbName === undefined) {
    return match(current.startsWith('-') ? [...flags(GLOBAL_OPTIONS), '--version'] : sources.verbs);
  }
  const verb = await sources.loadVerb(verbName);
  if (!verb) return [];
  const allOptions = { ...GLOBAL_OPTIONS, ...verb.options };
  if (current.startsWith('-')) return match(flags(allOptions));
  // The value of an option that takes one: a file, a duration… left to the shell.
  const previous = before[before.length - 1]!;
  const option = previous.startsWith('--') ? allOptions[previous.slice(2)] : Object.values(allOptions).find((o) => `-${o.short}` === previous);
  if (option?.type === 'string' && !previous.includes('=')) return [];
  const args = before.slice(before.indexOf(verbName) + 1).filter((w) => !w.startsWith('-'));
  if (verb.subverbs && args.length === 0) return match(verb.subverbs);
  const sub = verb.subverbs ? args[0] : undefined;
  if (verbName === 'help') return args.length === 0 ? match(sources.verbs) : [];
  const kind = argumentKind(verb.synopsis, sub);
  return kind ? match(await sources.names(kind)) : [];
}

/** The bash completion script (installed as /usr/share/bash-completion/completions/agentctl). */
export function bashCompletionScript(): string {
  return `# bash completion for agentctl (host-agent); generated, see agentctl(1).
# The candidates come from "agentctl __complete", which asks agentd for container and
# image names when it runs.
_agentctl() {
  local IFS=$'\\n'
  local words=("\${COMP_WORDS[@]:1:COMP_CWORD}")
  COMPREPLY=($(agentctl __complete -- "\${words[@]}" 2>/dev/null))
}
complete -o default -F _agentctl agentctl
`;
}
