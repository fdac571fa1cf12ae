/**
 * agentctl's container verbs: `list`/`ps` (the containers with their state, PID, uptime,
 * restarts; a failed one with its exit status and last lines of output), `start`, `stop`,
 * `restart` and `rm` (root). Everything goes through agentd.
 */
import type { AgentMethod, ContainerStatus } from '../../api/agent1.js';
import { AgentError } from '../../core/errors.js';
import { callAgent } from '../agent-client.js';
import { humanDuration } from '../render/duration.js';
import { styler, type Style } from '../render/style.js';
import { renderTable } from '../render/table.js';
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

const STATE_STYLE: Partial<Record<ContainerStatus['state'], Style>> = {
  running: 'green', failed: 'red', error: 'red', starting: 'yellow', stopping: 'yellow', pending: 'yellow', removed: 'dim',
};

function stateText(c: ContainerStatus): string {
  if (c.state === 'failed' && c.exitStatus !== undefined) return `failed (exit ${c.exitStatus})`;
  return c.state;
}

export function renderContainers(list: ContainerStatus[], color: boolean, now = new Date()): string {
  if (list.length === 0) return 'No containers.\n';
  const paint = styler(color);
  const table = renderTable(list, [
    { header: 'NAME', value: (c) => c.name },
    { header: 'IMAGE', value: (c) => c.image || '-' },
    { header: 'VERSION', value: (c) => c.version ?? '-' },
    { header: 'STATE', value: stateText, style: (c, t) => { const s = STATE_STYLE[c.state]; return s ? paint(s, t) : t; } },
    { header: 'PID', value: (c) => (c.mainPid ? String(c.mainPid) : '-') },
    { header: 'UPTIME', value: (c) => (c.state === 'running' && c.activeSince ? humanDuration((now.getTime() - Date.parse(c.activeSince)) / 1000) : '-') },
    { header: 'RESTARTS', value: (c) => String(c.nRestarts) },
  ]);
  const details: string[] = [];
  for (const c of list) {
    if (c.error) details.push(`${c.name}: ${paint('red', c.error.code)}: ${c.error.message}${c.error.hint ? `. ${c.error.hint}` : ''}`);
    if (c.state === 'failed') {
      details.push(`${c.name}: exited with status ${c.exitStatus ?? '?'}${c.lastOutput?.length ? '; last output:' : ''}`);
      for (const line of c.lastOutput ?? []) details.push(`  ${line}`);
    }
  }
  return table + (details.length > 0 ? `\n${details.join('\n')}\n` : '');
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

export const listVerbs: Verb[] = [listVerb('list'), listVerb('ps')];

export const actionVerbs: Verb[] = [
  actionVerb('start', 'StartContainer'),
  actionVerb('stop', 'StopContainer'),
  actionVerb('restart', 'RestartContainer'),
  actionVerb('rm', 'RemoveContainer'),
];
