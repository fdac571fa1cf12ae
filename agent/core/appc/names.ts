/**
 * AC Identifier and AC Name rules of the appc spec (schema/types), with the reference
 * implementation's exact messages. The reference checks only the allowed characters and
 * an alphanumeric first and last character, so doubled separators ("a..b") are accepted.
 * Pure: no I/O.
 */

import { invalid, readString } from './json.js';

const IDENTIFIER_CHARS = /^[a-z0-9\-._~/_]*$/; // "_" is accepted too, as the reference does
const NAME_CHARS = /^[a-z0-9-]*$/;
const ALNUM_EDGES = /^[a-z0-9](.*[a-z0-9])?$/s;

/** Why `value` is not an AC Identifier (image names), or undefined when it is one. */
export function acIdentifierProblem(value: string): string | undefined {
  if (value === '') return 'ACIdentifier cannot be empty';
  if (!IDENTIFIER_CHARS.test(value)) {
    return 'ACIdentifier must contain only lower case alphanumeric characters plus "-._~/"';
  }
  if (!ALNUM_EDGES.test(value)) {
    return 'ACIdentifier must start and end with only lower case alphanumeric characters';
  }
  return undefined;
}

/** Why `value` is not an AC Name (app, volume, port, container names), or undefined. */
export function acNameProblem(value: string): string | undefined {
  if (value === '') return 'ACName cannot be empty';
  if (!NAME_CHARS.test(value)) {
    return 'ACName must contain only lower case alphanumeric characters plus "-"';
  }
  if (!ALNUM_EDGES.test(value)) {
    return 'ACName must start and end with only lower case alphanumeric characters';
  }
  return undefined;
}

/** Reads a JSON string that must be an AC Identifier; `path` names the field. */
export function readAcIdentifier(value: unknown, path: string): string {
  const s = readString(value, path);
  const problem = acIdentifierProblem(s);
  return problem ? invalid(path, problem) : s;
}

/** Reads a JSON string that must be an AC Name; `path` names the field. */
export function readAcName(value: unknown, path: string): string {
  const s = readString(value, path);
  const problem = acNameProblem(s);
  return problem ? invalid(path, problem) : s;
}
