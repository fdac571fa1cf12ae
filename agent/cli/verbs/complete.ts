/**
 * agentctl __complete -- WORD…: prints the completion candidates of the last word, one a
 * line (completion.ts); container and image names come from agentd, asked briefly.
 */
import type { ContainerStatus, ImageSummary } from '../../api/agent1.js';
import { callAgent } from '../agent-client.js';
import { completionCandidates, type NameKind } from '../completion.js';
import { EXIT, type CliContext, type Verb } from '../verb.js';
import { VERBS, findVerb } from './index.js';

/** Completion must not hang a shell: the agent gets this long to answer. */
const NAMES_TIMEOUT_MS = 2000;

async function names(ctx: CliContext, kind: NameKind): Promise<string[]> {
  try {
    const [json] = await callAgent(ctx, kind === 'containers' ? 'ListContainers' : 'ListImages', [], { timeoutMs: NAMES_TIMEOUT_MS });
    const list = JSON.parse(json as string) as Array<ContainerStatus | ImageSummary>;
    return list.map((x) => x.name).sort();
  } catch {
    return [];
  }
}

export const completeVerb: Verb = {
  name: '__complete',
  synopsis: '-- WORD…',
  help: '',
  options: {},
  positionals: { min: 0, max: Infinity },
  async run(ctx, { positionals }) {
    // Names come from the agent the command line talks to.
    const bus = positionals.includes('--user') ? 'session' : positionals.includes('--system') ? 'system' : ctx.bus;
    const candidates = await completionCandidates(positionals.length ? positionals : [''], {
      verbs: VERBS.filter((v) => !v.hidden).map((v) => v.name),
      loadVerb: async (name) => findVerb(name)?.load(),
      names: (kind) => names({ ...ctx, bus }, kind),
    });
    ctx.stdout.write(candidates.map((c) => `${c}\n`).join(''));
    return EXIT.ok;
  },
};
