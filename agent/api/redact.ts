/**
 * What a reader who is not privileged (root, the agent's user, or the --read-group) sees
 * of the documents of the contract: states, never what may hold secrets. A container's
 * output (a failing app may print its DB_PASSWORD) and the environment values of an image
 * manifest are withheld; the document names each withheld field in `hidden`, and agentctl
 * shows HIDDEN in its place. Broadcast signals carry only this form. Pure.
 */
import type { AgentMethod, AgentSignal } from './agent1.js';
import type { ContainerStatus } from './containers.js';
import type { ImageDetail } from './images.js';
import type { AgentStatus } from './status.js';

/** What agentctl shows for a withheld field; also the value put in place of a hidden string. */
export const HIDDEN = '(hidden: run as root)';

export function redactContainer(c: ContainerStatus): ContainerStatus {
  if (c.lastOutput === undefined) return c;
  const { lastOutput: _withheld, ...rest } = c;
  return { ...rest, hidden: ['lastOutput'] };
}

export function redactStatus(status: AgentStatus): AgentStatus {
  return status.containers ? { ...status, containers: status.containers.map(redactContainer) } : status;
}

/** The manifest keeps its shape; each `app.environment` value becomes HIDDEN. */
export function redactImageDetail(detail: ImageDetail): ImageDetail {
  let manifest: { app?: { environment?: Array<{ name: string; value: string }> } };
  try {
    manifest = JSON.parse(detail.manifest) as typeof manifest;
  } catch {
    return { ...detail, manifest: '{}', hidden: ['manifest'] };
  }
  const env = manifest.app?.environment;
  if (!Array.isArray(env) || env.length === 0) return detail;
  const app = { ...manifest.app, environment: env.map((e) => ({ ...e, value: HIDDEN })) };
  return { ...detail, manifest: JSON.stringify({ ...manifest, app }), hidden: ['manifest.app.environment'] };
}

type JsonRedaction = (json: string) => string;

function onJson<T>(redact: (doc: T) => T): JsonRedaction {
  return (json) => JSON.stringify(redact(JSON.parse(json) as T));
}

/** The replies (JSON, first argument) redacted for unprivileged callers; other reads hold no secrets. */
export const REPLY_REDACTIONS: Partial<Record<AgentMethod, JsonRedaction>> = {
  GetStatus: onJson(redactStatus),
  ListContainers: onJson((list: ContainerStatus[]) => list.map(redactContainer)),
  GetImage: onJson(redactImageDetail),
};

/** Signals go to every listener: they are always sent redacted. */
export const SIGNAL_REDACTIONS: Partial<Record<AgentSignal, JsonRedaction>> = {
  StatusChanged: onJson(redactStatus),
};
