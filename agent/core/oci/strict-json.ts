/**
 * JSON parsing for security-relevant documents (policy.json, simple-signing payloads), as
 * strict as containers/image's "paranoid" decoder: a key that appears twice in one object
 * is an error (JSON.parse would silently keep the last one), and errors name the JSON path
 * (`transports.docker["quay.io"][0].keyType`). Pure: no I/O.
 */

/** A parse or shape error at a JSON path (`$` is the document itself). */
export class JsonPathError extends Error {
  constructor(readonly path: string, message: string) {
    super(`${path}: ${message}`);
    this.name = 'JsonPathError';
  }
}

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** The path of `key` inside the object at `path`. */
export function jsonPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  const member = /^[A-Za-z_][A-Za-z0-9_-]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
  return path === '$' && member.startsWith('.') ? key : `${path === '$' ? '' : path}${member}`;
}

/** Deeper nesting than this is refused (no document of ours comes close). */
export const MAX_JSON_DEPTH = 64;

/** Parses `text`; refuses duplicate keys, nesting deeper than MAX_JSON_DEPTH and trailing garbage. */
export function parseStrictJson(text: string): Json {
  let i = 0;
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const fail = (path: string, what: string): never => {
    throw new JsonPathError(path, i >= text.length ? 'unexpected end of JSON' : `${what} at offset ${i}`);
  };
  const token = (re: RegExp, path: string): string => {
    re.lastIndex = i;
    const m = re.exec(text);
    if (!m) return fail(path, 'invalid JSON');
    i += m[0].length;
    return m[0];
  };
  const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
  const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
  const value = (path: string, depth = 0): Json => {
    ws();
    const c = text[i];
    if ((c === '{' || c === '[') && depth >= MAX_JSON_DEPTH) throw new JsonPathError(path, `nested deeper than ${MAX_JSON_DEPTH} levels`);
    if (c === '{') {
      i++;
      const out: JsonObject = Object.create(null) as JsonObject;
      ws();
      if (text[i] === '}') {
        i++;
        return out;
      }
      for (;;) {
        ws();
        const key = JSON.parse(token(STRING, path)) as string;
        if (Object.prototype.hasOwnProperty.call(out, key)) throw new JsonPathError(jsonPath(path, key), 'duplicate key');
        ws();
        if (text[i++] !== ':') fail(path, 'expected ":"');
        out[key] = value(jsonPath(path, key), depth + 1);
        ws();
        const next = text[i++];
        if (next === '}') return out;
        if (next !== ',') fail(path, 'expected "," or "}"');
      }
    }
    if (c === '[') {
      i++;
      const out: Json[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return out;
      }
      for (;;) {
        out.push(value(jsonPath(path, out.length), depth + 1));
        ws();
        const next = text[i++];
        if (next === ']') return out;
        if (next !== ',') fail(path, 'expected "," or "]"');
      }
    }
    if (c === '"') return JSON.parse(token(STRING, path)) as string;
    if (c === 't' || c === 'f' || c === 'n') {
      const word = token(/true|false|null/y, path);
      return word === 'null' ? null : word === 'true';
    }
    return Number(token(NUMBER, path));
  };
  const result = value('$');
  ws();
  if (i < text.length) fail('$', 'unexpected data after the JSON value');
  return result;
}

export function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The object at `path`, with exactly the `required` keys and at most the `optional` ones. */
export function exactObject(value: Json | undefined, path: string, required: readonly string[], optional: readonly string[] = []): JsonObject {
  if (!isObject(value)) throw new JsonPathError(path, 'must be a JSON object');
  for (const key of Object.keys(value)) {
    if (!required.includes(key) && !optional.includes(key)) throw new JsonPathError(jsonPath(path, key), 'unknown field');
  }
  for (const key of required) {
    if (!(key in value)) throw new JsonPathError(jsonPath(path, key), 'missing');
  }
  return value;
}

export function stringAt(value: Json | undefined, path: string): string {
  if (typeof value !== 'string') throw new JsonPathError(path, 'must be a string');
  return value;
}
