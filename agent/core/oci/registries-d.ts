/**
 * registries.d (containers-registries.d(5)): where the signatures of a docker image are
 * stored ("lookaside"). Each YAML file may name `default-docker` and `docker: {SCOPE: …}`
 * with `lookaside` (older name `sigstore`) for reading and `lookaside-staging`
 * (`sigstore-staging`) for writing; a scope may be defined once across all files. The most
 * specific scope with a URL wins (full reference, repository, namespaces, host, wildcards),
 * then `default-docker`. A signature's URL is `BASE/REPOSITORY@ALGO=HEX/signature-N`. Other
 * keys are ignored as containers/image ignores them. Pure: the reader is
 * agent/host/oci/registries-d-reader.ts.
 */
import { AgentError } from '../errors.js';
import { dockerNamespaces, formatReference, type DockerReference } from './reference.js';

export interface SignatureStorage {
  lookaside?: string;
  lookasideStaging?: string;
}

export interface RegistriesD {
  defaultDocker?: SignatureStorage;
  docker: Record<string, SignatureStorage>;
}

/** One parsed YAML document and the file it came from. */
export interface RegistriesDFile {
  file: string;
  document: unknown;
}

function invalid(file: string, message: string): AgentError {
  return new AgentError({
    code: 'image.registries-d-invalid',
    message,
    subject: file,
    hint: 'Fix the file (containers-registries.d(5)); each scope may be configured in one file only',
  });
}

function storageOf(value: unknown, file: string, where: string): SignatureStorage {
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw invalid(file, `${where} must be a mapping`);
  const o = value as Record<string, unknown>;
  const url = (key: string): string | undefined => {
    const v = o[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') throw invalid(file, `${where}.${key} must be a URL string`);
    return v;
  };
  const lookaside = url('lookaside') ?? url('sigstore');
  const lookasideStaging = url('lookaside-staging') ?? url('sigstore-staging');
  return { ...(lookaside !== undefined && { lookaside }), ...(lookasideStaging !== undefined && { lookasideStaging }) };
}

/** Merges the files of a registries.d directory (in name order); a scope twice is an error. */
export function mergeRegistriesD(files: RegistriesDFile[]): RegistriesD {
  const out: RegistriesD = { docker: {} };
  let defaultFrom: string | undefined;
  const scopeFrom: Record<string, string> = {};
  for (const { file, document } of files) {
    if (document === null || document === undefined) continue;
    if (typeof document !== 'object' || Array.isArray(document)) throw invalid(file, 'the file must be a YAML mapping');
    const doc = document as Record<string, unknown>;
    if (doc['default-docker'] !== undefined) {
      if (defaultFrom !== undefined) throw invalid(file, `default-docker is already configured in ${defaultFrom}`);
      defaultFrom = file;
      out.defaultDocker = storageOf(doc['default-docker'], file, 'default-docker');
    }
    const docker = doc.docker;
    if (docker === undefined || docker === null) continue;
    if (typeof docker !== 'object' || Array.isArray(docker)) throw invalid(file, 'docker must be a mapping of scopes');
    for (const [scope, value] of Object.entries(docker as Record<string, unknown>)) {
      if (scopeFrom[scope] !== undefined) throw invalid(file, `docker scope ${scope} is already configured in ${scopeFrom[scope]}`);
      scopeFrom[scope] = file;
      out.docker[scope] = storageOf(value, file, `docker.${scope}`);
    }
  }
  return out;
}

/** The lookaside base URL for reading (or, with `write`, staging) `ref`'s signatures. */
export function lookasideBase(config: RegistriesD, ref: DockerReference, write = false): string | undefined {
  const pick = (s: SignatureStorage | undefined) => (write ? s?.lookasideStaging ?? s?.lookaside : s?.lookaside);
  for (const scope of [formatReference(ref), ...dockerNamespaces(ref)]) {
    const url = pick(config.docker[scope]);
    if (url) return url;
  }
  return pick(config.defaultDocker) || undefined;
}

/** `BASE/REPOSITORY@ALGO=HEX/signature-N` (N from 1). */
export function signatureUrl(base: string, ref: DockerReference, manifestDigest: string, n: number): string {
  const [algorithm, hex] = manifestDigest.split(':');
  return `${base.replace(/\/+$/, '')}/${ref.repository}@${algorithm}=${hex}/signature-${n}`;
}
