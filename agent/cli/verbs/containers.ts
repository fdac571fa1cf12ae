/**
 * agentctl's container listing: `list`/`ps` (the containers with their state, PID, uptime,
 * restarts; a failed one with its exit status and last lines of output), and the lookups
 * other verbs use. Everything goes through agentd. The actions (start, stop…) live in
 * container-actions.ts, so they load nothing of the rendering.
 */
import type { ContainerStatus } from '../../api/agent1.js';
import { AgentError } from '../../core/errors.js';
import { callAgent } from '../agent-client.js';
import { renderContainers } from '../render/containers.js';
import { EXIT, type CliContext, type Verb } from '../verb.js';

export async function fetchContainers(ctx: CliContext): Promise<ContainerStatus[]> {
  const [json] = await callAgent(ctx, 'ListContainers');
  return JSON.parse(json as string) as ContainerStatus[];
}

export async function findContainer(ctx: CliContext, name: string): Promise<ContainerStatus> {
  const found = (await fetchContainers(ctx)).find((c) => c.name === name);
  if (!found) throw new AgentError({ code: 'cli.no-such-container', message: 'no such container', subject: name, hint: 'See agentctl ps' });
  return found;
}

function listVerb(name: string): Verb {
  return {
    name,
    synopsis: '[--json]',
    help: '  --json    print the containers as a JSON array (ContainerStatus of docs/dbus-api.md)\n',
    options: { json: { type: 'boolean' } },
    positionals: { min: 0, max: 0 },
    async run(ctx, { values }) {
      const list = await fetchContainers(ctx);
      ctx.stdout.write(values.json ? JSON.stringify(list, null, 2) + '\n' : renderContainers(list, ctx.color));
      return EXIT.ok;
    },
  };
}

export const listVerbs: Verb[] = [listVerb('list'), listVerb('ps')];
