/**
 * Docker image references, as podman and containers/image read them:
 * `[docker://]HOST[:PORT]/REPO[:TAG][@ALGO:HEX]`. A first path component is a registry only
 * when it has a `.` or a `:` or is `localhost`; otherwise the image is on Docker Hub
 * (`docker.io`), whose one-component names live under `library/` (`busybox` →
 * `docker.io/library/busybox:latest`); `index.docker.io` is `docker.io`. Without a tag or a
 * digest the tag is `latest`. Also the names as signatures and policies write them
 * (`parseDockerName`: no default tag, undefined instead of an error, as containers/image's
 * ParseNormalizedNamed) and the policy scopes of a reference, most specific first. One
 * normaliser for both. Pure: no I/O.
 */
import { AgentError } from '../errors.js';

export interface DockerReference {
  /** `HOST[:PORT]`, normalised (`docker.io` for Docker Hub). */
  registry: string;
  /** The path in the registry, e.g. `library/busybox`. */
  repository: string;
  tag?: string;
  /** `sha256:<64 hex>` or `sha512:<128 hex>`. */
  digest?: string;
}

export const DOCKER_TRANSPORT = 'docker://';
export const DEFAULT_TAG = 'latest';
export const DOCKER_HUB = 'docker.io';

const FORM = 'Give an image reference as [docker://]HOST[:PORT]/REPOSITORY[:TAG|@sha256:HEX], e.g. docker://quay.io/org/app:1.0 or busybox';

const DOMAIN_COMPONENT = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/;
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;
const HEX64 = /^[a-f0-9]{64}$/;
const MAX_NAME = 255;

function bad(input: string, message: string): AgentError {
  return new AgentError({ code: 'image.bad-reference', message, subject: input, hint: FORM });
}

/** True when `s` is a valid digest (`sha256:` + 64 hex, or `sha512:` + 128 hex). */
export function isDigest(s: string): boolean {
  return DIGEST.test(s);
}

function checkRegistry(input: string, registry: string): void {
  const colon = registry.lastIndexOf(':');
  const [host, port] = colon < 0 ? [registry, undefined] : [registry.slice(0, colon), registry.slice(colon + 1)];
  if (port !== undefined && !/^[0-9]{1,5}$/.test(port)) throw bad(input, `the registry port "${port}" is not a number`);
  if (!host.split('.').every((c) => DOMAIN_COMPONENT.test(c))) throw bad(input, `"${registry}" is not a valid registry host name`);
}

function checkRepository(input: string, repository: string): void {
  for (const component of repository.split('/')) {
    if (PATH_COMPONENT.test(component)) continue;
    if (PATH_COMPONENT.test(component.toLowerCase())) throw bad(input, 'the repository name must be lowercase');
    throw bad(input, `"${component}" is not a valid repository name component (lowercase letters, digits and single . _ __ or - between them)`);
  }
}

/** Parses a reference, with or without `docker://`, and normalises Docker Hub short names; the tag is `latest` when none is written. */
export function parseReference(input: string): DockerReference {
  const ref = parseNamed(input);
  return ref.tag === undefined && ref.digest === undefined ? { ...ref, tag: DEFAULT_TAG } : ref;
}

/**
 * A docker reference as signatures and policy files write it (`busybox`, `quay.io/a/b:1`),
 * normalised, without a default tag; undefined when it is not one.
 */
export function parseDockerName(text: string): DockerReference | undefined {
  if (text.startsWith(DOCKER_TRANSPORT)) return undefined;
  try {
    return parseNamed(text);
  } catch {
    return undefined;
  }
}

function parseNamed(input: string): DockerReference {
  let rest = input.startsWith(DOCKER_TRANSPORT) ? input.slice(DOCKER_TRANSPORT.length) : input;
  if (rest === '') throw bad(input, 'the reference is empty');
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(rest)) throw bad(input, 'only the docker:// transport is supported');

  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!isDigest(digest)) throw bad(input, `"${digest}" is not a valid digest (sha256: and 64 lowercase hex digits)`);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw bad(input, `"${tag}" is not a valid tag (letters, digits, _ . -, at most 128, not starting with . or -)`);
  }
  if (rest === '') throw bad(input, 'the reference has no repository');

  const slash = rest.indexOf('/');
  const first = slash < 0 ? rest : rest.slice(0, slash);
  // As ParseNormalizedNamed: a first component with a dot, a port, `localhost` or upper case is a host.
  const hasRegistry = slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase());
  let registry = hasRegistry ? first : DOCKER_HUB;
  let repository = hasRegistry ? rest.slice(slash + 1) : rest;
  if (registry === 'index.docker.io') registry = DOCKER_HUB;
  if (registry === DOCKER_HUB && !repository.includes('/')) repository = `library/${repository}`;

  if (!hasRegistry && HEX64.test(rest)) throw bad(input, 'a 64-digit hex string is an image ID, not a repository name');
  if (hasRegistry) checkRegistry(input, registry);
  if (repository === '') throw bad(input, 'the reference has no repository');
  checkRepository(input, repository);
  if (registry.length + 1 + repository.length > MAX_NAME) throw bad(input, `the name is longer than ${MAX_NAME} characters`);

  return { registry, repository, ...(tag !== undefined && { tag }), ...(digest !== undefined && { digest }) };
}

/** `HOST[:PORT]/REPO`: the repository with its registry. */
export function repositoryName(ref: Pick<DockerReference, 'registry' | 'repository'>): string {
  return `${ref.registry}/${ref.repository}`;
}

/**
 * `HOST[:PORT]/REPO[:TAG][@DIGEST]`, the docker reference as signatures and policy scopes
 * write it; with `transport`, prefixed with `docker://` (how agentctl and cloud-config name it).
 */
export function formatReference(ref: DockerReference, options: { transport?: boolean } = {}): string {
  const name = `${repositoryName(ref)}${ref.tag === undefined ? '' : `:${ref.tag}`}${ref.digest === undefined ? '' : `@${ref.digest}`}`;
  return options.transport ? `${DOCKER_TRANSPORT}${name}` : name;
}

/** The repository and its parent namespaces down to the host, then the host's `*.domain` wildcards: policy and registries.d scopes, most specific first. */
export function dockerNamespaces(ref: Pick<DockerReference, 'registry' | 'repository'>): string[] {
  const out: string[] = [];
  let name = repositoryName(ref);
  for (;;) {
    out.push(name);
    const slash = name.lastIndexOf('/');
    if (slash < 0) break;
    name = name.slice(0, slash);
  }
  let host = name.includes(':') ? name.slice(0, name.indexOf(':')) : name;
  for (let dot = host.indexOf('.'); dot >= 0; dot = host.indexOf('.')) {
    host = host.slice(dot + 1);
    out.push(`*.${host}`);
  }
  return out;
}
