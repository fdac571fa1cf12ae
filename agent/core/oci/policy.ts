/**
 * containers-policy.json(5), as containers/image reads and applies it for the docker
 * transport: a strict parser (an unknown or repeated field anywhere fails the whole file,
 * the error names its JSON path), the scope lookup (full reference, repository, parent
 * namespaces, host, `*.domain` wildcards, then the transport's `""`, then `default`) and the
 * identity rules of `signedBy` (`signedIdentity`). Verifying signatures is the host's job
 * (agent/host/oci/policy-check.ts); this module decides. Pure: no I/O.
 */
import { AgentError } from '../errors.js';
import { repositoryName, dockerNamespaces, formatReference, parseDockerName, type DockerReference } from './reference.js';
import { exactObject, isObject, jsonPath, JsonPathError, parseStrictJson, stringAt, type Json } from './strict-json.js';

export type SignedIdentity =
  | { type: 'matchRepoDigestOrExact' }
  | { type: 'matchExact' }
  | { type: 'matchRepository' }
  | { type: 'exactReference'; dockerReference: string }
  | { type: 'exactRepository'; dockerRepository: string }
  | { type: 'remapIdentity'; prefix: string; signedPrefix: string };

/** Where a signedBy rule's keys are: files (keyPath, keyPaths) or inline base64 (keyData). */
export type KeySource = { paths: string[] } | { data: string };

export type Requirement =
  | { type: 'insecureAcceptAnything' }
  | { type: 'reject' }
  | { type: 'signedBy'; keyType: 'GPGKeys'; keys: KeySource; signedIdentity: SignedIdentity };

export interface Policy {
  default: Requirement[];
  /** Transport name → scope → requirements; only `docker` is used by host-agent. */
  transports: Record<string, Record<string, Requirement[]>>;
}

/** The rule chosen for an image: its label in the file and its requirements. */
export interface ChosenRule {
  /** `transports.docker["quay.io/x"]`, `transports.docker[""]` or `default`. */
  scope: string;
  requirements: Requirement[];
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const HOST = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]+)?$/;

function identityAt(value: Json | undefined, path: string): SignedIdentity {
  if (value === undefined) return { type: 'matchRepoDigestOrExact' };
  const type = isObject(value) ? value.type : undefined;
  switch (type) {
    case 'matchRepoDigestOrExact':
    case 'matchExact':
    case 'matchRepository':
      exactObject(value, path, ['type']);
      return { type };
    case 'exactReference': {
      const o = exactObject(value, path, ['type', 'dockerReference']);
      const text = stringAt(o.dockerReference, jsonPath(path, 'dockerReference'));
      const ref = parseDockerName(text);
      if (!ref) throw new JsonPathError(jsonPath(path, 'dockerReference'), `${JSON.stringify(text)} is not a docker reference`);
      if (ref.tag === undefined && ref.digest === undefined) throw new JsonPathError(jsonPath(path, 'dockerReference'), `${text} contains neither a tag nor a digest`);
      return { type, dockerReference: text };
    }
    case 'exactRepository': {
      const o = exactObject(value, path, ['type', 'dockerRepository']);
      const text = stringAt(o.dockerRepository, jsonPath(path, 'dockerRepository'));
      if (!parseDockerName(text)) throw new JsonPathError(jsonPath(path, 'dockerRepository'), `${JSON.stringify(text)} is not a docker repository`);
      return { type, dockerRepository: text };
    }
    case 'remapIdentity': {
      const o = exactObject(value, path, ['type', 'prefix', 'signedPrefix']);
      const prefix = remapPrefix(o.prefix, jsonPath(path, 'prefix'));
      const signedPrefix = remapPrefix(o.signedPrefix, jsonPath(path, 'signedPrefix'));
      return { type, prefix, signedPrefix };
    }
    default:
      throw new JsonPathError(jsonPath(path, 'type'), `unknown signedIdentity type ${JSON.stringify(type ?? null)}`);
  }
}

/** A remapIdentity prefix: a host[:port] or a repository namespace without tag or digest. */
function remapPrefix(value: Json | undefined, path: string): string {
  const text = stringAt(value, path);
  if (HOST.test(text)) return text;
  const ref = parseDockerName(text);
  if (!ref || ref.tag !== undefined || ref.digest !== undefined || repositoryName(ref) !== text) {
    throw new JsonPathError(path, `${JSON.stringify(text)} is neither a host name nor a fully expanded repository namespace`);
  }
  return text;
}

function requirementAt(value: Json, path: string): Requirement {
  const type = isObject(value) ? value.type : undefined;
  switch (type) {
    case 'insecureAcceptAnything':
    case 'reject':
      exactObject(value, path, ['type']);
      return { type };
    case 'signedBy': {
      const o = exactObject(value, path, ['type', 'keyType'], ['keyPath', 'keyPaths', 'keyData', 'signedIdentity']);
      const keyType = stringAt(o.keyType, jsonPath(path, 'keyType'));
      if (keyType !== 'GPGKeys') throw new JsonPathError(jsonPath(path, 'keyType'), `${JSON.stringify(keyType)} is not supported; use "GPGKeys"`);
      const given = ['keyPath', 'keyPaths', 'keyData'].filter((k) => o[k] !== undefined);
      if (given.length !== 1) throw new JsonPathError(path, 'exactly one of keyPath, keyPaths and keyData must be given');
      let keys: KeySource;
      if (o.keyPath !== undefined) {
        keys = { paths: [stringAt(o.keyPath, jsonPath(path, 'keyPath'))] };
      } else if (o.keyPaths !== undefined) {
        const list = o.keyPaths;
        if (!Array.isArray(list) || list.length === 0) throw new JsonPathError(jsonPath(path, 'keyPaths'), 'must be a non-empty array of paths');
        keys = { paths: list.map((p, i) => stringAt(p, jsonPath(jsonPath(path, 'keyPaths'), i))) };
      } else {
        const data = stringAt(o.keyData, jsonPath(path, 'keyData'));
        if (!BASE64.test(data)) throw new JsonPathError(jsonPath(path, 'keyData'), 'is not base64');
        keys = { data };
      }
      return { type, keyType, keys, signedIdentity: identityAt(o.signedIdentity, jsonPath(path, 'signedIdentity')) };
    }
    default:
      throw new JsonPathError(jsonPath(path, 'type'), `unknown requirement type ${JSON.stringify(type ?? null)}`);
  }
}

function requirementsAt(value: Json | undefined, path: string): Requirement[] {
  if (value === undefined) throw new JsonPathError(path, 'missing');
  if (value !== null && !Array.isArray(value)) throw new JsonPathError(path, 'must be an array of requirements');
  if (value === null || value.length === 0) throw new JsonPathError(path, 'the list of requirements must not be empty');
  return value.map((r, i) => requirementAt(r, jsonPath(path, i)));
}

/** Parses a policy.json; any error is `image.policy-invalid` naming `file` and the JSON path. */
export function parsePolicy(text: string, file: string): Policy {
  try {
    const top = exactObject(parseStrictJson(text), '$', ['default'], ['transports']);
    const policy: Policy = { default: requirementsAt(top.default, 'default'), transports: {} };
    if (top.transports !== undefined && top.transports !== null) {
      if (!isObject(top.transports)) throw new JsonPathError('transports', 'must be a JSON object');
      for (const [transport, scopes] of Object.entries(top.transports)) {
        const at = jsonPath('transports', transport);
        if (!isObject(scopes)) throw new JsonPathError(at, 'must be a JSON object of scopes');
        policy.transports[transport] = {};
        for (const [scope, reqs] of Object.entries(scopes)) {
          policy.transports[transport]![scope] = requirementsAt(reqs, jsonPath(at, scope));
        }
      }
    }
    return policy;
  } catch (e) {
    if (!(e instanceof JsonPathError)) throw e;
    throw new AgentError({
      code: 'image.policy-invalid',
      message: `invalid policy: ${e.message}`,
      subject: file,
      hint: 'Fix the file (containers-policy.json(5)); no image from a registry is accepted while it is invalid',
      cause: e,
    });
  }
}

/** The requirements for an image from a docker registry, and the scope that chose them. */
export function chooseRule(policy: Policy, ref: DockerReference): ChosenRule {
  const scopes = policy.transports.docker;
  if (scopes) {
    for (const scope of [formatReference(ref), ...dockerNamespaces(ref), '']) {
      const requirements = scopes[scope];
      if (requirements) return { scope: `transports.docker[${JSON.stringify(scope)}]`, requirements };
    }
  }
  return { scope: 'default', requirements: policy.default };
}

/** matchRepoDigestOrExact: by digest, the same repository; by tag, exactly the same reference. */
function repoDigestOrExact(image: DockerReference, signed: DockerReference): boolean {
  if (image.digest !== undefined) return repositoryName(image) === repositoryName(signed);
  return image.tag !== undefined && formatReference(image) === formatReference(signed);
}

function isNameOnly(ref: DockerReference): boolean {
  return ref.tag === undefined && ref.digest === undefined;
}

/** Whether a signature's `docker-reference` is acceptable for `image` under `identity`. */
export function identityMatches(identity: SignedIdentity, image: DockerReference, signedReference: string): boolean {
  const signed = parseDockerName(signedReference);
  if (!signed) return false;
  switch (identity.type) {
    case 'matchRepoDigestOrExact':
      return repoDigestOrExact(image, signed);
    case 'matchExact':
      return !isNameOnly(image) && !isNameOnly(signed) && formatReference(image) === formatReference(signed);
    case 'matchRepository':
      return repositoryName(image) === repositoryName(signed);
    case 'exactReference': {
      const wanted = parseDockerName(identity.dockerReference);
      return wanted !== undefined && !isNameOnly(signed) && formatReference(wanted) === formatReference(signed);
    }
    case 'exactRepository': {
      const wanted = parseDockerName(identity.dockerRepository);
      return wanted !== undefined && repositoryName(wanted) === repositoryName(signed);
    }
    case 'remapIdentity': {
      const name = repositoryName(image);
      const { prefix } = identity;
      const under = name === prefix || (name.startsWith(prefix) && name[prefix.length] === '/');
      const remapped = under ? parseDockerName(identity.signedPrefix + formatReference(image).slice(prefix.length)) : image;
      return remapped !== undefined && repoDigestOrExact(remapped, signed);
    }
  }
}
