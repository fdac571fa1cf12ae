/**
 * agentctl's calls to agentd over the lean D-Bus client, with bus errors turned into
 * AgentErrors a person can act on (agent not running, not allowed, busy).
 */
import {
  AGENT_BUS_NAME, AGENT_ERRORS, AGENT_INTERFACE, AGENT_METHODS, AGENT_OBJECT_PATH, type AgentMethod, type AgentStatus,
} from '../api/agent1.js';
import { AgentError, isAgentError, type AgentErrorInit } from '../core/errors.js';
import { BusErrorReply, callMethod, type CallOptions } from '../host/bus/lean-client.js';
import type { CliContext } from './verb.js';

const NOT_RUNNING = new Set([
  'org.freedesktop.DBus.Error.ServiceUnknown',
  'org.freedesktop.DBus.Error.NameHasNoOwner',
]);

/** `extra`: signals to receive during the call, a longer timeout (long calls with progress). */
export async function callAgent(ctx: CliContext, method: AgentMethod, body: unknown[] = [], extra: Pick<CallOptions, 'signals' | 'timeoutMs'> = {}): Promise<unknown[]> {
  try {
    return await callMethod({
      bus: ctx.bus, env: ctx.env, destination: AGENT_BUS_NAME, path: AGENT_OBJECT_PATH,
      interface: AGENT_INTERFACE, member: method, signature: AGENT_METHODS[method].in, body, ...extra,
    });
  } catch (e) {
    if ((e instanceof BusErrorReply && NOT_RUNNING.has(e.errorName)) || isAgentError(e, 'bus.unreachable')) {
      throw new AgentError({
        code: 'cli.agent-not-running',
        message: `agentd is not running on the ${ctx.bus} bus`,
        hint: ctx.bus === 'system' ? 'Start it with: systemctl start host-agent' : 'Start the demo with: scripts/demo',
        cause: e,
      });
    }
    if (e instanceof BusErrorReply && e.errorName === 'org.freedesktop.DBus.Error.AccessDenied') {
      // The sentence that says what to do first; the bus's own words (a policy rule) last.
      throw new AgentError({
        code: 'cli.access-denied',
        message: 'access denied: run as root',
        hint: `Changes are for root only (${method} was refused: ${e.message})`,
        cause: e,
      });
    }
    if (e instanceof BusErrorReply && e.errorName === AGENT_ERRORS.busy) {
      throw new AgentError({ code: 'cli.agent-busy', message: e.message, hint: 'Other calls of this user keep the agent busy; retry in a moment', cause: e });
    }
    if (e instanceof BusErrorReply) {
      // The agent's own code (e.g. container.not-found) when it sent one.
      const code = e.code !== undefined && /^[a-z]+\.[a-z0-9-]+$/.test(e.code) ? e.code as AgentErrorInit['code'] : 'cli.agent-error';
      throw new AgentError({ code, message: e.message, cause: e });
    }
    throw e;
  }
}

export async function fetchStatus(ctx: CliContext): Promise<AgentStatus> {
  const [json] = await callAgent(ctx, 'GetStatus');
  return JSON.parse(json as string) as AgentStatus;
}
