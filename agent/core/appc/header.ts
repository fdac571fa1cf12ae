/**
 * The `acKind` and `acVersion` fields every appc manifest opens with, and the spec version
 * this agent writes. Messages follow the reference implementation. Pure: no I/O.
 */

import { semverProblem } from './semver.js';
import { invalid, quote, readString } from './json.js';

export type ManifestKind = 'ImageManifest' | 'PodManifest';

/** The appc spec version this agent implements and writes into manifests it makes. */
export const APPC_SPEC_VERSION = '0.8.11';

/** Reads an `acKind` value: one of the two manifest kinds. */
export function readAcKind(value: unknown, path: string): ManifestKind {
  const kind = readString(value, path);
  if (kind === '') invalid(path, 'ACKind must be set');
  if (kind !== 'ImageManifest' && kind !== 'PodManifest') invalid(path, `bad ACKind: ${kind}`);
  return kind;
}

/** Reads an `acVersion` value: a SemVer. */
export function readAcVersion(value: unknown, path: string): string {
  const version = readString(value, path);
  const problem = semverProblem(version);
  return problem ? invalid(path, problem) : version;
}

/** The checks after decoding: the expected kind, and a version present. */
export function checkHeader(kind: string, version: string, expected: ManifestKind): void {
  if (kind !== expected) invalid('acKind', `missing or bad ACKind (must be ${quote(expected)})`);
  if (version === '') invalid('acVersion', 'acVersion must be set');
}
