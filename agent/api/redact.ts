/**
 * What a reader who is not privileged (root, the agent's user, or the --read-group) sees
 * of the documents of the contract: states, never what may hold secrets.
 *
 * - A container's output (a failing app may print its DB_PASSWORD) is left out, and the
 *   document names it in `hidden` (agentctl shows HIDDEN in its place): a failed
 *   container's `lastOutput`, and the output kept with an image rollback.
 * - The environment values of an image (its record's run config, an appc manifest's app)
 *   become HIDDEN (`hidden` names them).
 * - The credentials of any URL in any string (`https://bob:TOKEN@host/…`: image sources,
 *   the update server, the lock endpoint, error messages quoting them) become HIDDEN.
 *
 * Broadcast signals carry only this form. Pure.
 */
import type { AgentMethod, AgentSignal } from './agent1.js';
import type { ContainerImageUpdate, ContainerStatus, ImageRollback, ImageUpdatesDocument } from './containers.js';
import type { ImageDetail } from './images.js';
import type { AgentStatus } from './status.js';

/** What agentctl shows for a withheld field; also the value put in place of a hidden string. */
export const HIDDEN = '(hidden: run as root)';

const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/?#@]+)@/gi;

/** The password of each URL's userinfo (or a lone token in its place) becomes HIDDEN. */
export function hideUrlCredentials(text: string): string {
  return text.replace(URL_USERINFO, (_all, scheme: string, info: string) => {
    const colon = info.indexOf(':');
    return `${scheme}${colon >= 0 ? info.slice(0, colon + 1) : ''}${HIDDEN}@`;
  });
}

/** Every string of a JSON value, URL credentials hidden. */
export function hideCredentialsIn<T>(value: T): T {
  if (typeof value === 'string') return hideUrlCredentials(value) as T;
  if (Array.isArray(value)) return value.map(hideCredentialsIn) as T;
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, hideCredentialsIn(v)])) as T;
  }
  return value;
}

export function redactContainer(c: ContainerStatus): ContainerStatus {
  if (c.lastOutput === undefined) return c;
  const { lastOutput: _withheld, ...rest } = c;
  return { ...rest, hidden: ['lastOutput'] };
}

export function redactRollback(r: ImageRollback): ImageRollback {
  if (r.output === undefined) return r;
  const { output: _withheld, ...rest } = r;
  return { ...rest, hidden: ['output'] };
}

export function redactStatus(status: AgentStatus): AgentStatus {
  return {
    ...status,
    ...(status.containers && { containers: status.containers.map(redactContainer) }),
    ...(status.imageRollback && { imageRollback: redactRollback(status.imageRollback) }),
  };
}

export function redactImageUpdate(c: ContainerImageUpdate): ContainerImageUpdate {
  if (c.last?.output === undefined) return c;
  const { output: _withheld, ...last } = c.last;
  return { ...c, last, hidden: ['last.output'] };
}

export function redactImageUpdates(doc: ImageUpdatesDocument): ImageUpdatesDocument {
  return { ...doc, containers: doc.containers.map(redactImageUpdate) };
}

/** The appc manifest text with each `app.environment` value HIDDEN; undefined when there is none. */
function redactManifest(text: string): { manifest: string; hidden: string } | undefined {
  let manifest: { app?: { environment?: Array<{ name: string; value: string }> } };
  try {
    manifest = JSON.parse(text) as typeof manifest;
  } catch {
    return { manifest: '{}', hidden: 'manifest' };
  }
  const env = manifest.app?.environment;
  if (!Array.isArray(env) || env.length === 0) return undefined;
  const app = { ...manifest.app, environment: env.map((e) => ({ ...e, value: HIDDEN })) };
  return { manifest: JSON.stringify({ ...manifest, app }), hidden: 'manifest.app.environment' };
}

/** The record and the manifest keep their shape; each environment value becomes HIDDEN. */
export function redactImageDetail(detail: ImageDetail): ImageDetail {
  const hidden: string[] = [];
  let { record } = detail;
  const env = record?.run?.environment;
  if (Array.isArray(env) && env.length > 0) {
    record = { ...record, run: { ...record.run!, environment: env.map(([name]): [string, string] => [name, HIDDEN]) } };
    hidden.push('record.run.environment');
  }
  const manifest = detail.manifest === undefined ? undefined : redactManifest(detail.manifest);
  if (manifest) hidden.push(manifest.hidden);
  if (hidden.length === 0) return detail;
  return { ...detail, record, ...(manifest && { manifest: manifest.manifest }), hidden };
}

type Redaction = (doc: never) => unknown;

/** What is withheld from each document beyond URL credentials. */
const WITHHELD: Partial<Record<AgentMethod | AgentSignal, Redaction>> = {
  GetStatus: redactStatus,
  StatusChanged: redactStatus,
  ListContainers: (list: ContainerStatus[]) => list.map(redactContainer),
  GetImage: redactImageDetail,
  ContainerImageUpdates: redactImageUpdates,
};

/**
 * A reply (the JSON document of a read method) or a signal (every signal is broadcast),
 * as an unprivileged reader may see it.
 */
export function redactDocument(member: AgentMethod | AgentSignal, json: string): string {
  const doc = JSON.parse(json) as never;
  const withheld = WITHHELD[member];
  return JSON.stringify(hideCredentialsIn(withheld ? withheld(doc) : doc));
}
