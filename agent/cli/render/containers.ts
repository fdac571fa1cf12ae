/**
 * Containers as a table for people (`agentctl ps`, `agentctl status`): state coloured on a
 * TTY, a pod's apps as rows `POD/APP` under it, and under the table why a container is in error or what a failed one last printed
 * (`(hidden: run as root)` when the agent withheld it from this user).
 */
import type { ContainerStatus } from '../../api/agent1.js';
import type { AppStatus } from '../../api/containers.js';
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

/** A table row: a container (or pod), or one app of a pod under it. */
type Row = { c: ContainerStatus; app?: undefined } | { c: ContainerStatus; app: AppStatus };

function appStateText(a: AppStatus): string {
  return a.state === 'failed' && a.exitStatus !== undefined ? `failed (exit ${a.exitStatus})` : a.state;
}

export function renderContainers(list: ContainerStatus[], color: boolean, now = new Date()): string {
  if (list.length === 0) return 'No containers.\n';
  const paint = styler(color);
  const rows: Row[] = list.flatMap((c): Row[] => [{ c }, ...(c.apps ?? []).map((app) => ({ c, app }))]);
  const own = (r: Row, value: (c: ContainerStatus) => string): string => (r.app ? '-' : value(r.c));
  const table = renderTable(rows, [
    { header: 'NAME', value: (r) => (r.app ? `  ${r.c.name}/${r.app.name}` : r.c.name) },
    { header: 'IMAGE', value: (r) => (r.app ? r.app.image : r.c.apps ? `pod of ${r.c.apps.length} apps` : r.c.image || '-') },
    { header: 'VERSION', value: (r) => (r.app ? r.app.version : r.c.version) ?? '-' },
    {
      header: 'STATE', value: (r) => (r.app ? appStateText(r.app) : stateText(r.c)),
      style: (r, t) => { const s = STATE_STYLE[r.app ? r.app.state : r.c.state]; return s ? paint(s, t) : t; },
    },
    { header: 'PID', value: (r) => { const pid = r.app ? r.app.mainPid : r.c.mainPid; return pid ? String(pid) : '-'; } },
    { header: 'UPTIME', value: (r) => own(r, (c) => (c.state === 'running' && c.activeSince ? humanDuration((now.getTime() - Date.parse(c.activeSince)) / 1000) : '-')) },
    { header: 'RESTARTS', value: (r) => own(r, (c) => String(c.nRestarts)) },
    { header: 'NETWORK', value: (r) => own(r, (c) => (c.network ? [c.network.name, c.network.address].filter(Boolean).join(' ') : '-')) },
    { header: 'PORTS', value: (r) => own(r, (c) => (c.network?.ports.length ? c.network.ports.join(',') : '-')) },
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
