/**
 * Docker image names as containers/image reads them in signatures and policies
 * (`ParseNormalizedNamed`: `busybox` is `docker.io/library/busybox`), printed back in full,
 * and the policy scopes of a reference, most specific first, as the docker transport lists
 * them: `NAME:TAG@DIGEST`, `NAME`, each parent namespace down to `HOST[:PORT]`, then the
 * `*.DOMAIN` wildcards of the host without its port. Pure: no I/O.
 */

/** A docker reference, structurally the same as the registry client's reference type. */
export interface DockerReference {
  /** `HOST[:PORT]`, e.g. `quay.io`, `127.0.0.1:5000`. */
  registry: string;
  /** The path inside the registry, e.g. `library/busybox`. */
  repository: string;
  tag?: string;
  /** `ALGORITHM:HEX`. */
  digest?: string;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]+)?$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-fA-F]{32,}$/;

/** `registry/repository`. */
export function dockerName(ref: DockerReference): string {
  return `${ref.registry}/${ref.repository}`;
}

/** `registry/repository[:tag][@digest]`. */
export function dockerString(ref: DockerReference): string {
  return `${dockerName(ref)}${ref.tag === undefined ? '' : `:${ref.tag}`}${ref.digest === undefined ? '' : `@${ref.digest}`}`;
}

/** Parses a docker reference the way containers/image normalises one, or undefined. */
export function parseDockerName(text: string): DockerReference | undefined {
  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) return undefined;
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) return undefined;
  }
  const slash = rest.indexOf('/');
  const first = slash < 0 ? '' : rest.slice(0, slash);
  let registry = 'docker.io';
  let repository = rest;
  if (slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase())) {
    registry = first === 'index.docker.io' ? 'docker.io' : first;
    repository = rest.slice(slash + 1);
  }
  if (registry === 'docker.io' && !repository.includes('/')) repository = `library/${repository}`;
  if (!DOMAIN.test(registry) || repository.length === 0 || !repository.split('/').every((c) => COMPONENT.test(c))) return undefined;
  if (registry.length + 1 + repository.length > 255) return undefined;
  return { registry, repository, ...(tag !== undefined && { tag }), ...(digest !== undefined && { digest }) };
}

/** The repository and its parent namespaces down to the host, then the host's `*.domain` wildcards. */
export function dockerNamespaces(ref: DockerReference): string[] {
  const out: string[] = [];
  let name = dockerName(ref);
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
