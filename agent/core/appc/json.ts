/**
 * Reading untyped JSON (the result of JSON.parse) into appc types, with the field path of
 * every problem. Each reader throws `appc.invalid-manifest` with the path as subject and a
 * message in the reference implementation's words. JSON `null` counts as an absent field,
 * as encoding/json treats it for slices and pointers. Pure: no I/O.
 */

import { AgentError } from '../errors.js';

export type JsonObject = Record<string, unknown>;

/** Throws the error every appc manifest check raises. */
export function invalid(path: string, message: string): never {
  throw new AgentError({
    code: 'appc.invalid-manifest',
    message,
    subject: path === '' ? 'manifest' : path,
    hint: `Correct ${path === '' ? 'the manifest' : `"${path}"`} to follow the App Container spec 0.8.11`,
  });
}

/** Joins a parent path and a field name or index: `app` + `ports` → `app.ports`, `[0]`. */
export function at(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path === '' ? key : `${path}.${key}`;
}

/** A Go-style quoted string, as `%q` prints it for printable text. */
export function quote(s: string): string {
  return JSON.stringify(s);
}

function jsonType(value: unknown): string {
  if (Array.isArray(value)) return 'array';
  if (value === null) return 'null';
  return typeof value === 'object' ? 'object' : typeof value;
}

function mismatch(value: unknown, path: string, expected: string): never {
  return invalid(path, `cannot unmarshal ${jsonType(value)} into ${path || 'manifest'} of type ${expected}`);
}

export function isAbsent(value: unknown): value is undefined | null {
  return value === undefined || value === null;
}

export function readObject(value: unknown, path: string): JsonObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return mismatch(value, path, 'object');
  return value as JsonObject;
}

export function readString(value: unknown, path: string): string {
  if (isAbsent(value)) return '';
  if (typeof value !== 'string') return mismatch(value, path, 'string');
  return value;
}

export function readBool(value: unknown, path: string): boolean {
  if (isAbsent(value)) return false;
  if (typeof value !== 'boolean') return mismatch(value, path, 'bool');
  return value;
}

/** An integer; `unsigned` refuses negatives like Go's uint. */
export function readInt(value: unknown, path: string, unsigned = false): number {
  if (isAbsent(value)) return 0;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || (unsigned && value < 0)) {
    return mismatch(value, path, unsigned ? 'uint' : 'int');
  }
  return value;
}

/** A list read element by element; absent gives an empty list. */
export function readArray<T>(value: unknown, path: string, each: (item: unknown, path: string) => T): T[] {
  if (isAbsent(value)) return [];
  if (!Array.isArray(value)) return mismatch(value, path, 'array');
  return value.map((item, i) => each(item, at(path, i)));
}

export function readStringArray(value: unknown, path: string): string[] {
  return readArray(value, path, readString);
}

/** A JSON object of string values (Go `map[string]string`). */
export function readStringMap(value: unknown, path: string): Record<string, string> {
  if (isAbsent(value)) return {};
  const o = readObject(value, path);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(o)) out[k] = readString(v, at(path, k));
  return out;
}

/**
 * Visits the known fields of an object in document order, as encoding/json decodes them,
 * so the first problem reported is the first one in the text. Unknown keys are ignored.
 */
export function readFields(
  value: unknown,
  path: string,
  fields: Record<string, (value: unknown, path: string) => void>,
): void {
  for (const [key, v] of Object.entries(readObject(value, path))) {
    const read = Object.hasOwn(fields, key) ? fields[key] : undefined;
    if (read && !isAbsent(v)) read(v, at(path, key));
  }
}
