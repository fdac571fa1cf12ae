/**
 * agentctl status: the agent, its systemd link, config, update state and managed units,
 * like `systemctl status`; --json prints the same data as the AgentStatus document.
 * What went wrong comes first: the header says "degraded" and the exit status is 1 when
 * something declared failed (statusProblems), with the last OS update error and the last
 * container image rollback (its reason and the container's last output lines) under it.
 */
import type { AgentStatus, ImageRollback, UnitStatus } from '../../api/agent1.js';
import { HIDDEN } from '../../api/redact.js';
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

/**
 * What declared has failed, one phrase each: failed units, containers failed or in error,
 * an invalid configuration or failed apply steps, systemd not reached. Empty: healthy.
 */
export function statusProblems(s: AgentStatus): string[] {
  const failedUnits = s.units.filter((u) => u.activeState === 'failed').map((u) => u.name);
  const failedContainers = (s.containers ?? []).filter((c) => c.state === 'failed' || c.state === 'error').map((c) => c.name);
  const failedSteps = s.config.lastApply?.steps.filter((step) => step.error).length ?? 0;
  return [
    ...(failedUnits.length ? [`failed units: ${failedUnits.join(', ')}`] : []),
    ...(failedContainers.length ? [`failed containers: ${failedContainers.join(', ')}`] : []),
    ...(s.config.state === 'invalid' ? ['the configuration is invalid'] : []),
    ...(failedSteps ? [`${failedSteps === 1 ? 'a step' : `${failedSteps} steps`} of the last config apply failed`] : []),
    ...(s.config.lastApply?.error ? [`the last config apply failed (${s.config.lastApply.error.code})`] : []),
    ...(!s.systemd.connected ? ['systemd is not connected'] : []),
  ];
}

/** The rollback line, then the container's last output lines indented under it. */
function rollbackLines(r: ImageRollback, paint: ReturnType<typeof styler>): string[] {
  const output = r.hidden?.includes('output') ? `; last output: ${paint('dim', HIDDEN)}` : r.output?.length ? '; last output:' : '';
  return [`  Rollback: ${r.container}: ${paint('yellow', r.message)} at ${r.at}${output}`, ...(r.output ?? []).map((l) => `            ${l}`)];
}

export function renderStatus(s: AgentStatus, color: boolean, now = new Date()): string {
  const paint = styler(color);
  const problems = statusProblems(s);
  const state = problems.length > 0 && s.state === 'running' ? 'degraded' : s.state;
  const dot = state === 'running' ? paint('green', '●') : state === 'degraded' ? paint('red', '●') : paint('yellow', '●');
  const systemd = s.systemd.connected
    ? `${s.systemd.version} on the ${s.systemd.bus} bus`
    : paint('red', `not connected (${s.systemd.error ?? 'unknown'})`) + (s.systemd.nextRetryAt ? `, next try at ${s.systemd.nextRetryAt}` : '');
  const invalid = s.config.invalidFiles?.length ? `invalid: ${s.config.invalidFiles.join(', ')}; the last good configuration is in force` : 'invalid';
  const configState = s.config.state === 'ok' ? paint('green', 'ok') : s.config.state === 'invalid' ? paint('red', invalid) : s.config.state;
  const lines = [
    `${dot} host-agent ${s.version} — ${state === 'degraded' ? paint('red', state) : state}`,
    ...problems.map((p) => `    Failed: ${paint('red', p)}`),
    `    Uptime: ${humanDuration(s.uptimeSeconds)} (since ${s.startedAt}), PID ${s.pid}`,
    `   systemd: ${systemd}`,
    `    Config: ${s.config.path} (${configState})`,
    ...s.config.entries.map((e) => `            ${e.file}: line ${e.line}: ${e.level}: ${e.message}`),
    ...(s.config.lastApply?.error ? [`            ${paint('red', 'last apply failed, nothing changed')}: ${s.config.lastApply.error.message}`] : []),
    `    Update: ${updateLine(s.update)}`,
    ...(s.update.lastError ? [`            last error: ${paint('red', `${s.update.lastError.message} [${s.update.lastError.code}]`)} at ${s.update.lastError.at}`] : []),
    ...(s.imageRollback ? rollbackLines(s.imageRollback, paint) : []),
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
  help: `  --json    print the status as JSON (the AgentStatus document of docs/dbus-api.md)
  Exits 0 when all is well, 1 when something declared failed (the header says degraded),
  3 when the agent is not running.
`,
  options: { json: { type: 'boolean' } },
  positionals: { min: 0, max: 0 },
  async run(ctx: CliContext, { values }) {
    const status = await fetchStatus(ctx);
    ctx.stdout.write(values.json ? JSON.stringify(status, null, 2) + '\n' : renderStatus(status, ctx.color, new Date()));
    return statusProblems(status).length > 0 ? EXIT.failure : EXIT.ok;
  },
};
