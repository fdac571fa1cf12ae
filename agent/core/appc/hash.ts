/**
 * Image hashes (`sha512-<value>`), the form of image IDs and dependency imageIDs, with the
 * reference implementation's messages. The reference only checks the form `type-value`;
 * a full image ID as this agent computes it has 128 lower-case hex digits.
 * Pure: no I/O.
 */

import { invalid, readString } from './json.js';

const FULL_ID = /^sha512-[0-9a-f]{128}$/;

/** The number of hex digits kept by the short form of an image ID. */
export const SHORT_HASH_HEX = 32;

/** Why `value` is not a hash string, or undefined when it is one. */
export function hashProblem(value: string): string | undefined {
  const parts = value.split('-');
  if (parts.length !== 2) return 'badly formatted hash string';
  const [type, digest] = parts;
  if (type === '') return 'unexpected empty hash type';
  if (type !== 'sha512') return `unrecognized hash type: ${type}`;
  if (digest === '') return 'unexpected empty hash value';
  return undefined;
}

/** True for a complete image ID: `sha512-` and the 128 hex digits of a SHA-512. */
export function isFullImageId(value: string): boolean {
  return FULL_ID.test(value);
}

/** The short form of an image ID: `sha512-` and its first 32 hex digits. */
export function shortHash(id: string): string {
  return id.slice(0, 'sha512-'.length + SHORT_HASH_HEX);
}

/** Reads a JSON string that must be a hash (an image ID); `path` names the field. */
export function readHash(value: unknown, path: string): string {
  const s = readString(value, path);
  const problem = hashProblem(s);
  return problem ? invalid(path, problem) : s;
}
