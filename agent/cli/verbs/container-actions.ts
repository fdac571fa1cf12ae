/**
 * agentctl's container actions: `start`, `stop`, `restart` and `rm` (root), each one call
 * to agentd. Kept apart from the listing so that `agentctl start` loads only the client.
 */
import type { AgentMethod } from '../../api/agent1.js';
import { callAgent } from '../agent-client.js';
import { EXIT, type Verb } from '../verb.js';

function actionVerb(name: string, method: AgentMethod): Verb {
  return {
    name,
    synopsis: 'NAME',
    help: '',
    options: {},
    positionals: { min: 1, max: 1 },
    async run(ctx, { positionals }) {
      await callAgent(ctx, method, [positionals[0]!], { timeoutMs: 120_000 });
      return EXIT.ok;
    },
  };
}

export const actionVerbs: Verb[] = [
  actionVerb('start', 'StartContainer'),
  actionVerb('stop', 'StopContainer'),
  actionVerb('restart', 'RestartContainer'),
  actionVerb('rm', 'RemoveContainer'),
];
