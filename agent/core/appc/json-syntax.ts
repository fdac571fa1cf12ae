/**
 * Finds the first JSON syntax error in a text, with the offset and the message Go's
 * encoding/json gives (`invalid character '}' looking for beginning of value`), because
 * JSON.parse does not always say where it failed. Only called once JSON.parse has failed.
 * Pure: no I/O.
 */

export interface JsonSyntaxError {
  /** Offset of the offending character (the text's length at an unexpected end). */
  offset: number;
  message: string;
}

class Stop {
  constructor(readonly offset: number, readonly message: string) {}
}

const WS = new Set([' ', '\t', '\n', '\r']);

function quoteChar(c: string): string {
  if (c === "'") return "'\\''";
  if (c === '"') return `'"'`;
  return `'${JSON.stringify(c).slice(1, -1)}'`;
}

/** The first syntax error of `text`, or undefined when it is valid JSON. */
export function findJsonSyntaxError(text: string): JsonSyntaxError | undefined {
  let i = 0;
  const fail = (context: string): never => {
    if (i >= text.length) throw new Stop(text.length, 'unexpected end of JSON input');
    throw new Stop(i, `invalid character ${quoteChar(text[i])} ${context}`);
  };
  const skipSpace = (): void => {
    while (i < text.length && WS.has(text[i])) i++;
  };
  const digits = (context: string): void => {
    if (!/[0-9]/.test(text[i] ?? '')) fail(context);
    while (/[0-9]/.test(text[i] ?? '')) i++;
  };
  const string = (): void => {
    i++;
    for (;;) {
      if (i >= text.length) fail('');
      const c = text[i];
      if (c === '"') return void i++;
      if (c < ' ') fail('in string literal');
      if (c !== '\\') {
        i++;
        continue;
      }
      i++;
      if (text[i] === 'u') {
        for (let k = 0; k < 4; k++) {
          i++;
          if (!/[0-9A-Fa-f]/.test(text[i] ?? '')) fail('in \\u hexadecimal character escape');
        }
        i++;
      } else if (i < text.length && '"\\/bfnrt'.includes(text[i])) i++;
      else fail('in string escape code');
    }
  };
  const value = (): void => {
    skipSpace();
    const c = text[i];
    if (c === '{') return object();
    if (c === '[') return array();
    if (c === '"') return string();
    if (c === '-' || /[0-9]/.test(c ?? '')) return number();
    for (const literal of ['true', 'false', 'null']) {
      if (c !== literal[0]) continue;
      for (let k = 1; k < literal.length; k++) {
        i++;
        if (text[i] !== literal[k]) fail(`in literal ${literal} (expecting ${quoteChar(literal[k])})`);
      }
      return void i++;
    }
    fail('looking for beginning of value');
  };
  const number = (): void => {
    if (text[i] === '-') i++;
    if (text[i] === '0') i++;
    else digits('in numeric literal');
    if (text[i] === '.') {
      i++;
      digits('after decimal point in numeric literal');
    }
    if (text[i] === 'e' || text[i] === 'E') {
      i++;
      if (text[i] === '+' || text[i] === '-') i++;
      digits('in exponent of numeric literal');
    }
  };
  const object = (): void => {
    i++;
    skipSpace();
    if (text[i] === '}') return void i++;
    for (;;) {
      skipSpace();
      if (text[i] !== '"') fail('looking for beginning of object key string');
      string();
      skipSpace();
      if (text[i] !== ':') fail('after object key');
      i++;
      value();
      skipSpace();
      if (text[i] === '}') return void i++;
      if (text[i] !== ',') fail('after object key:value pair');
      i++;
    }
  };
  const array = (): void => {
    i++;
    skipSpace();
    if (text[i] === ']') return void i++;
    for (;;) {
      value();
      skipSpace();
      if (text[i] === ']') return void i++;
      if (text[i] !== ',') fail('after array element');
      i++;
    }
  };
  try {
    value();
    skipSpace();
    if (i < text.length) fail('after top-level value');
    return undefined;
  } catch (e) {
    if (e instanceof Stop) return { offset: e.offset, message: e.message };
    throw e;
  }
}
