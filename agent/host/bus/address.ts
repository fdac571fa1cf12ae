/**
 * Which D-Bus bus to use and where its socket is: the system bus by default, the session
 * bus when told (sandboxes, tests). `HOST_AGENT_BUS=session|system` sets the default for
 * both agentd and agentctl, so a shell that sourced a sandbox's environment needs no flag.
 */
import type { BusKind } from '../../api/agent1.js';
import { AgentError } from '../../core/errors.js';

export function busKindFromEnv(env: NodeJS.ProcessEnv = process.env): BusKind {
  const v = env.HOST_AGENT_BUS;
  if (v === undefined || v === '' || v === 'system') return 'system';
  if (v === 'session' || v === 'user') return 'session';
  throw new AgentError({
    code: 'bus.bad-kind',
    message: `HOST_AGENT_BUS=${v} is not a bus`,
    hint: 'Set HOST_AGENT_BUS to "system" or "session"',
  });
}

/** The bus address string, as dbus-next and the lean client take it. */
export function busAddress(kind: BusKind, env: NodeJS.ProcessEnv = process.env): string {
  if (kind === 'system') {
    return env.DBUS_SYSTEM_BUS_ADDRESS || 'unix:path=/run/dbus/system_bus_socket';
  }
  if (env.DBUS_SESSION_BUS_ADDRESS) return env.DBUS_SESSION_BUS_ADDRESS;
  if (env.XDG_RUNTIME_DIR) return `unix:path=${env.XDG_RUNTIME_DIR}/bus`;
  throw new AgentError({
    code: 'bus.no-session-bus',
    message: 'no session bus: neither DBUS_SESSION_BUS_ADDRESS nor XDG_RUNTIME_DIR is set',
    hint: 'Use the system bus, or source the environment of a sandbox (scripts/demo env)',
  });
}

/** Socket paths of a `unix:path=…` / `unix:abstract=…` address list, in order. */
export function unixSocketPaths(address: string): string[] {
  const paths: string[] = [];
  for (const entry of address.split(';')) {
    const [transport, params = ''] = entry.split(/:(.*)/s, 2);
    if (transport !== 'unix') continue;
    for (const kv of params.split(',')) {
      const [key, value = ''] = kv.split('=', 2);
      const decoded = decodeURIComponent(value);
      if (key === 'path') paths.push(decoded);
      if (key === 'abstract') paths.push(`\0${decoded}`);
    }
  }
  return paths;
}
