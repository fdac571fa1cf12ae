/**
 * agentctl status: the agent, its systemd link, config, update state and managed units,
 * like `systemctl status`; --json prints the same data as the AgentStatus document.
 */
import type { AgentStatus, UnitStatus } from '../../api/agent1.js';
import { fetchStatus } from '../agent-client.js';
import { renderContainers } from '../render/containers.js';
import { humanDuration } from '../render/duration.js';
import { activeStateStyle, styler } from '../render/style.js';
import { renderTable } from '../render/table.js';
import { EXIT, type CliContext, type Verb } from '../verb.js';

function updateLine(u: AgentStatus['update']): string {
  if (!u.enabled) return `${u.state} (OS updates off: ${u.disabledReason ?? 'not configured'})`;
  const staged = u.newVersion ? `, ${u.newVersion} staged` : '';
  return `${u.state} (${u.currentVersion}${u.bootedSlot ? ` on USR-${u.bootedSlot}` : ''}${staged})`;
}

export function renderStatus(s: AgentStatus, color: boolean, now = new Date()): string {
  const paint = styler(color);
  const dot = s.state === 'running' ? paint('green', '●') : paint('yellow', '●');
  const systemd = s.systemd.connected
    ? `${s.systemd.version} on the ${s.systemd.bus} bus`
    : paint('red', `not connected (${s.systemd.error ?? 'unknown'})`) + (s.systemd.nextRetryAt ? `, next try at ${s.systemd.nextRetryAt}` : '');
  const invalid = s.config.invalidFiles?.length ? `invalid: ${s.config.invalidFiles.join(', ')}; the last good configuration is in force` : 'invalid';
  const configState = s.config.state === 'ok' ? paint('green', 'ok') : s.config.state === 'invalid' ? paint('red', invalid) : s.config.state;
  const lines = [
    `${dot} host-agent ${s.version} — ${s.state}`,
    `    Uptime: ${humanDuration(s.uptimeSeconds)} (since ${s.startedAt}), PID ${s.pid}`,
    `   systemd: ${systemd}`,
    `    Config: ${s.config.path} (${configState})`,
    ...s.config.entries.map((e) => `            ${e.file}: line ${e.line}: ${e.level}: ${e.message}`),
    ...(s.config.lastApply?.error ? [`            ${paint('red', 'last apply failed, nothing changed')}: ${s.config.lastApply.error.message}`] : []),
    `    Update: ${updateLine(s.update)}`,
    ...(s.reboot ? [`    Reboot: ${s.reboot.strategy}: ${s.reboot.message}`] : []),
    '',
  ];
  const containers = s.containers?.length ? `\n${renderContainers(s.containers, color, now)}` : '';
  if (s.units.length === 0) return lines.join('\n') + 'No managed units.\n' + containers;
  const since = (u: UnitStatus): string => (u.activeSince && u.activeState === 'active'
    ? `${humanDuration((now.getTime() - Date.parse(u.activeSince)) / 1000)} ago` : '-');
  const table = renderTable(s.units, [
    { header: 'UNIT', value: (u) => u.name },
    { header: 'ACTIVE', value: (u) => u.activeState, style: (u, t) => { const st = activeStateStyle(u.activeState); return st ? paint(st, t) : t; } },
    { header: 'SUB', value: (u) => u.subState },
    { header: 'PID', value: (u) => (u.mainPid ? String(u.mainPid) : '-') },
    { header: 'RESTARTS', value: (u) => String(u.nRestarts) },
    { header: 'EXIT', value: (u) => (u.execMainStatus ? String(u.execMainStatus) : '-') },
    { header: 'SINCE', value: since },
  ]);
  return lines.join('\n') + table + containers;
}

export const statusVerb: Verb = {
  name: 'status',
  synopsis: '[--json]',
  help: '  --json    print the status as JSON (the AgentStatus document of docs/dbus-api.md)\n',
  options: { json: { type: 'boolean' } },
  positionals: { min: 0, max: 0 },
  async run(ctx: CliContext, { values }) {
    const status = await fetchStatus(ctx);
    ctx.stdout.write(values.json ? JSON.stringify(status, null, 2) + '\n' : renderStatus(status, ctx.color));
    return EXIT.ok;
  },
};
