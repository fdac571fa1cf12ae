/**
 * What a file is, from its first bytes, as `actool` tells: a gzip, bzip2 or xz compressed
 * archive, a plain tar (`ustar` at offset 257), text (a manifest), or unknown.
 * Pure: no I/O.
 */

export type FileFormat = 'gzip' | 'bzip2' | 'xz' | 'tar' | 'text' | 'unknown';

/** How many leading bytes `sniffFormat` looks at; pass this many when the file has them. */
export const SNIFF_BYTES = 512;

const MAGIC: readonly [FileFormat, readonly number[]][] = [
  ['gzip', [0x1f, 0x8b]],
  ['bzip2', [0x42, 0x5a, 0x68]],
  ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
];
const USTAR = [0x75, 0x73, 0x74, 0x61, 0x72];
const USTAR_OFFSET = 257;

function startsWith(bytes: Uint8Array, prefix: readonly number[], offset = 0): boolean {
  return bytes.length >= offset + prefix.length && prefix.every((b, i) => bytes[offset + i] === b);
}

/** A byte that never appears in text (the WHATWG sniffing rule). */
function isBinaryByte(b: number): boolean {
  return b <= 0x08 || b === 0x0b || (b >= 0x0e && b <= 0x1a) || (b >= 0x1c && b <= 0x1f);
}

/** The format of a file whose first bytes (up to SNIFF_BYTES) are `head`. */
export function sniffFormat(head: Uint8Array): FileFormat {
  const bytes = head.subarray(0, SNIFF_BYTES);
  for (const [format, magic] of MAGIC) if (startsWith(bytes, magic)) return format;
  if (bytes.length > USTAR_OFFSET + USTAR.length && startsWith(bytes, USTAR, USTAR_OFFSET)) return 'tar';
  return bytes.some(isBinaryByte) ? 'unknown' : 'text';
}

/** True for the formats that hold an image archive. */
export function isArchiveFormat(format: FileFormat): boolean {
  return format !== 'text' && format !== 'unknown';
}
