/**
 * The OCI adapter to the format-neutral image model: a resolved image (reference, top-level
 * manifest digest, manifest annotations, image config) → ImageRecord. The exec is
 * Entrypoint followed by Cmd; `User` is `USER[:GROUP]` (names or numbers); ExposedPorts
 * become ports. The neutral validation does not re-check what comes from an OCI config, so
 * this adapter refuses environment names, users and working directories that could not go
 * into a unit file. Pure: no I/O.
 */
import { AgentError } from '../errors.js';
import type { ImagePort, ImageRecord, ImageRunConfig } from '../image/record.js';
import type { ImageConfig } from './manifest.js';
import { formatReference, repositoryName, type DockerReference } from './reference.js';

export interface OciImageFacts {
  /** The reference as fetched (its tag becomes the `version` label). */
  reference: DockerReference;
  /** The digest of the manifest the reference names (an index or the image manifest): what is signed. */
  digest: string;
  /** The layer IDs of the layer store, bottom first. */
  layers: string[];
  config: ImageConfig;
  /** The image manifest's annotations. */
  annotations: Record<string, string>;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
const USER_PART = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}$/;
const CONTROL = /[\u0000-\u001f\u007f]/;

function badConfig(subject: string, field: string, message: string): AgentError {
  return new AgentError({
    code: 'image.bad-config',
    message: `${field}: ${message}`,
    subject,
    hint: 'The image config cannot be run as a unit: tell the image\'s publisher, or override the field in the container declaration',
  });
}

/** The store ID of an OCI image: `sha256-<hex>` of its top-level manifest digest. */
export function ociImageId(digest: string): string {
  const m = /^sha256:([0-9a-f]{64})$/.exec(digest);
  if (!m) throw new AgentError({ code: 'image.bad-digest', message: `the manifest digest ${digest.slice(0, 80)} is not sha256:<64 hex digits>`, subject: digest.slice(0, 80), hint: 'host-agent stores images by their sha256 manifest digest: push the image with sha256 digests' });
  return `sha256-${m[1]}`;
}

function environment(env: readonly string[], subject: string): Array<[string, string]> {
  return env.map((entry, i): [string, string] => {
    const eq = entry.indexOf('=');
    const name = eq < 0 ? entry : entry.slice(0, eq);
    if (!ENV_NAME.test(name)) throw badConfig(subject, `config.Env[${i}]`, `${JSON.stringify(name.slice(0, 80))} is not an environment variable name`);
    const value = eq < 0 ? '' : entry.slice(eq + 1);
    if (CONTROL.test(value)) throw badConfig(subject, `config.Env[${i}]`, `the value of ${name} has a newline or another control character`);
    return [name, value];
  });
}

function userAndGroup(user: string | undefined, subject: string): Pick<ImageRunConfig, 'user' | 'group'> {
  if (user === undefined || user === '') return {};
  const parts = user.split(':');
  if (parts.length > 2 || !parts.every((p) => USER_PART.test(p))) {
    throw badConfig(subject, 'config.User', `${JSON.stringify(user.slice(0, 80))} is not USER[:GROUP] (names or numbers)`);
  }
  return { user: parts[0], ...(parts[1] !== undefined && { group: parts[1] }) };
}

function workingDirectory(dir: string | undefined, subject: string): Pick<ImageRunConfig, 'workingDirectory'> {
  if (dir === undefined || dir === '') return {};
  if (!dir.startsWith('/') || CONTROL.test(dir) || dir.split('/').includes('..')) {
    throw badConfig(subject, 'config.WorkingDir', `${JSON.stringify(dir.slice(0, 80))} is not an absolute path without ..`);
  }
  return { workingDirectory: dir };
}

function ports(exposed: readonly string[], subject: string): ImagePort[] {
  return exposed.map((key) => {
    const m = /^([0-9]{1,5})(?:\/(tcp|udp|sctp))?$/.exec(key);
    if (!m || Number(m[1]) < 1 || Number(m[1]) > 65535) throw badConfig(subject, 'config.ExposedPorts', `${JSON.stringify(key.slice(0, 80))} is not PORT/tcp or PORT/udp`);
    return { name: key, port: Number(m[1]), protocol: (m[2] ?? 'tcp') as 'tcp' | 'udp' };
  }).filter((p) => p.protocol === 'tcp' || p.protocol === 'udp');
}

/** The record of the OCI image that `facts` describe; throws image.bad-config for a config that cannot run. */
export function ociRecord(facts: OciImageFacts): ImageRecord {
  const { reference, config } = facts;
  const subject = formatReference(reference, { transport: true });
  const settings = config.config;
  const run: ImageRunConfig = {
    exec: [...(settings.entrypoint ?? []), ...(settings.cmd ?? [])],
    environment: environment(settings.env, subject),
    ...userAndGroup(settings.user, subject),
    ...workingDirectory(settings.workingDir, subject),
    ports: ports(settings.exposedPorts, subject),
    isolators: [],
  };
  return {
    id: ociImageId(facts.digest),
    format: 'oci',
    name: repositoryName(reference),
    labels: [
      ...(reference.tag !== undefined ? [{ name: 'version', value: reference.tag }] : []),
      { name: 'os', value: config.os },
      { name: 'arch', value: config.architecture },
    ],
    annotations: { ...facts.annotations, ...settings.labels },
    reference: subject,
    digest: facts.digest,
    layers: facts.layers,
    run,
  };
}
