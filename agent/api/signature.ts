/**
 * D-Bus type signatures: splitting a signature into its complete types. Pure.
 */

const TYPE_CODES = new Set('ybnqiuxtdhsogav({'.split(''));

/** Split a signature into its complete types: "sa{sv}u" → ["s", "a{sv}", "u"]. */
export function splitSignature(signature: string): string[] {
  const types: string[] = [];
  let i = 0;
  while (i < signature.length) {
    const end = completeTypeEnd(signature, i);
    types.push(signature.slice(i, end));
    i = end;
  }
  return types;
}

function completeTypeEnd(sig: string, start: number): number {
  const c = sig[start];
  if (c === 'a') return completeTypeEnd(sig, start + 1);
  if (c === '(' || c === '{') {
    const close = c === '(' ? ')' : '}';
    let i = start + 1;
    while (sig[i] !== close) {
      if (i >= sig.length) throw new Error(`unterminated D-Bus signature "${sig}"`);
      i = completeTypeEnd(sig, i);
    }
    return i + 1;
  }
  if (c === undefined || !TYPE_CODES.has(c)) throw new Error(`unsupported D-Bus signature "${sig}"`);
  return start + 1;
}
