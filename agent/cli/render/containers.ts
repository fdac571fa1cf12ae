/**
 * Containers as a table for people (`agentctl ps`, `agentctl status`): state coloured on a
 * TTY, and under the table why a container is in error or what a failed one last printed
 * (`(hidden: run as root)` when the agent withheld it from this user).
 */
import type { ContainerStatus } from '../../api/agent1.js';
import { HIDDEN } from '../../api/redact.js';
import { humanDuration } from './duration.js';
import { styler, type Style } from './style.js';
import { renderTable } from './table.js';

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
    { header: 'NETWORK', value: (c) => (c.network ? [c.network.name, c.network.address].filter(Boolean).join(' ') : '-') },
    { header: 'PORTS', value: (c) => (c.network?.ports.length ? c.network.ports.join(',') : '-') },
  ]);
  const details: string[] = [];
  for (const c of list) {
    if (c.error) details.push(`${c.name}: ${paint('red', c.error.code)}: ${c.error.message}${c.error.hint ? `. ${c.error.hint}` : ''}`);
    if (c.state === 'failed') {
      const output = c.hidden?.includes('lastOutput') ? `; last output: ${paint('dim', HIDDEN)}` : c.lastOutput?.length ? '; last output:' : '';
      details.push(`${c.name}: exited with status ${c.exitStatus ?? '?'}${output}`);
      for (const line of c.lastOutput ?? []) details.push(`  ${line}`);
    }
  }
  return table + (details.length > 0 ? `\n${details.join('\n')}\n` : '');
}
