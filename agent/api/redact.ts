/**
 * What a reader who is not privileged (root, the agent's user, or the --read-group) sees
 * of the documents of the contract: states, never what may hold secrets. A container's
 * output (a failing app may print its DB_PASSWORD) is withheld, and the document names it
 * in `hidden` (agentctl shows HIDDEN in its place); the environment values of an image
 * manifest and the credentials of URLs (`https://user:token@host/…`: image sources, the
 * update server, the lock endpoint) are replaced by HIDDEN. Broadcast signals carry only
 * this form. Pure.
 */
import type { AgentMethod, AgentSignal } from './agent1.js';
import type { ContainerStatus } from './containers.js';
import type { ImageDetail, ImageSummary } from './images.js';
import type { AgentStatus } from './status.js';
import type { RebootStatus, UpdateStatusDocument } from './updates.js';

/** What agentctl shows for a withheld field; also the value put in place of a hidden string. */
export const HIDDEN = '(hidden: run as root)';

/** The password of a URL's userinfo (or a lone token in its place) becomes HIDDEN. */
export function hideUrlCredentials(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)([^/?#@]*)@/i, (_all, scheme: string, info: string) => {
    const colon = info.indexOf(':');
    return `${scheme}${colon >= 0 ? info.slice(0, colon + 1) : ''}${HIDDEN}@`;
  });
}

export function redactContainer(c: ContainerStatus): ContainerStatus {
  const image = hideUrlCredentials(c.image);
  if (c.lastOutput === undefined) return image === c.image ? c : { ...c, image };
  const { lastOutput: _withheld, ...rest } = c;
  return { ...rest, image, hidden: ['lastOutput'] };
}

export function redactUpdate(update: UpdateStatusDocument): UpdateStatusDocument {
  return update.server === undefined ? update : { ...update, server: hideUrlCredentials(update.server) };
}

export function redactReboot(reboot: RebootStatus): RebootStatus {
  return reboot.lock?.endpoint === undefined ? reboot : { ...reboot, lock: { ...reboot.lock, endpoint: hideUrlCredentials(reboot.lock.endpoint) } };
}

export function redactImage(image: ImageSummary): ImageSummary {
  return { ...image, source: hideUrlCredentials(image.source) };
}

export function redactStatus(status: AgentStatus): AgentStatus {
  return {
    ...status,
    update: redactUpdate(status.update),
    ...(status.reboot && { reboot: redactReboot(status.reboot) }),
    ...(status.containers && { containers: status.containers.map(redactContainer) }),
  };
}

/** The manifest keeps its shape; each `app.environment` value becomes HIDDEN. */
export function redactImageDetail(detail: ImageDetail): ImageDetail {
  const withImage = { ...detail, image: redactImage(detail.image) };
  let manifest: { app?: { environment?: Array<{ name: string; value: string }> } };
  try {
    manifest = JSON.parse(detail.manifest) as typeof manifest;
  } catch {
    return { ...withImage, manifest: '{}', hidden: ['manifest'] };
  }
  const env = manifest.app?.environment;
  if (!Array.isArray(env) || env.length === 0) return withImage;
  const app = { ...manifest.app, environment: env.map((e) => ({ ...e, value: HIDDEN })) };
  return { ...withImage, manifest: JSON.stringify({ ...manifest, app }), hidden: ['manifest.app.environment'] };
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
  ListImages: onJson((list: ImageSummary[]) => list.map(redactImage)),
  GetUpdateStatus: onJson(redactUpdate),
  GetRebootStatus: onJson(redactReboot),
};

/** Signals go to every listener: they are always sent redacted. */
export const SIGNAL_REDACTIONS: Partial<Record<AgentSignal, JsonRedaction>> = {
  StatusChanged: onJson(redactStatus),
  UpdateStatusChanged: onJson(redactUpdate),
};
