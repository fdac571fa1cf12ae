/**
 * The arguments of the contract's methods, checked at the API boundary before a handler
 * runs: a name or reference is a short string, a request is a JSON object with fields of
 * the declared types. A malformed call gets `agent.bad-request` (InvalidArgs on the bus)
 * with a sentence for people, never a JavaScript error's text. Pure.
 */
import { AgentError } from '../core/errors.js';

/** Field types of a JSON request; a trailing `?` marks an optional field. */
export type FieldType = 'string' | 'string?' | 'number' | 'string[]' | 'string[]?';

export type ArgumentSpec =
  /** A name or reference: a container name, an image ID, name or NAME[:VERSION][,LABEL=VALUE]…. */
  | { kind: 'name'; what: string }
  /** A JSON object; fields not listed are ignored (newer clients). */
  | { kind: 'json'; what: string; fields: Record<string, FieldType> };

/** Longest name or reference taken, in characters. */
export const MAX_NAME_LENGTH = 1024;
/** Longest JSON request taken, in characters. */
export const MAX_REQUEST_LENGTH = 64 * 1024;

function badRequest(method: string, message: string): AgentError {
  return new AgentError({ code: 'agent.bad-request', message: `${method}: ${message}`, hint: 'See docs/dbus-api.md for the arguments of each method' });
}

function fieldMatches(value: unknown, type: FieldType): boolean {
  if (value === undefined) return type.endsWith('?');
  const base = type.replace('?', '');
  if (base === 'string') return typeof value === 'string';
  if (base === 'number') return typeof value === 'number' && Number.isFinite(value);
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

const TYPE_WORDS: Record<string, string> = { string: 'a string', number: 'a number', 'string[]': 'an array of strings' };

/** The problem with argument `value` of `method`, or undefined when it is well-formed. */
export function argumentProblem(method: string, spec: ArgumentSpec, value: unknown): AgentError | undefined {
  if (typeof value !== 'string') return badRequest(method, `takes ${spec.what} as a string`);
  if (spec.kind === 'name') {
    if (value === '') return badRequest(method, `${spec.what} is empty`);
    if (value.length > MAX_NAME_LENGTH) return badRequest(method, `${spec.what} is ${value.length} characters long, more than ${MAX_NAME_LENGTH}`);
    return undefined;
  }
  if (value.length > MAX_REQUEST_LENGTH) return badRequest(method, `the ${spec.what} is ${value.length} characters long, more than ${MAX_REQUEST_LENGTH}`);
  let doc: unknown;
  try {
    doc = JSON.parse(value);
  } catch {
    return badRequest(method, `takes a ${spec.what} JSON document; this is not JSON`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return badRequest(method, `takes a ${spec.what} JSON object`);
  for (const [name, type] of Object.entries(spec.fields)) {
    const field = (doc as Record<string, unknown>)[name];
    if (!fieldMatches(field, type)) {
      const base = type.replace('?', '');
      return badRequest(method, `${spec.what}.${name} must be ${TYPE_WORDS[base]}${field === undefined ? ' and is missing' : ''}`);
    }
  }
  return undefined;
}
