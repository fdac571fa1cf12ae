/**
 * GUIDs as GPT stores them: the first three fields little-endian, the last two as bytes.
 * Text form is lower case `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
 */
const GUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Read the 16-byte on-disk GUID at `offset` of `buf`. */
export function guidFromBytes(buf: Uint8Array, offset = 0): string {
  const b = buf.subarray(offset, offset + 16);
  const hex = (from: number, to: number, reverse: boolean): string => {
    const part = Array.from(b.subarray(from, to));
    if (reverse) part.reverse();
    return part.map((x) => x.toString(16).padStart(2, '0')).join('');
  };
  return `${hex(0, 4, true)}-${hex(4, 6, true)}-${hex(6, 8, true)}-${hex(8, 10, false)}-${hex(10, 16, false)}`;
}

/** Normalise a GUID's text form (any case); undefined when it is not a GUID. */
export function normalizeGuid(text: string): string | undefined {
  const lower = text.toLowerCase();
  return GUID_RE.test(lower) ? lower : undefined;
}
