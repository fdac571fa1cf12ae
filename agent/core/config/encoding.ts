/**
 * `write_files` content encodings: base64 (`b64`), gzip (`gz`) and gzip over base64, read as
 * the reference reads them (base64 is the standard alphabet with padding; line breaks in it
 * are skipped). Decompression is given by the caller (`Gunzip`), so this module stays pure
 * and the host bounds the output size.
 * Pure: no I/O.
 */
import { ENCODINGS } from './coreos-schema.js';
import type { TreeNode } from './tree.js';

/** Decompresses a gzip stream; throws when the data is not one (or is too large). */
export type Gunzip = (data: Uint8Array) => Uint8Array;

/** The bytes of a string in UTF-8 (lone surrogates become U+FFFD). */
export function utf8Encode(text: string): Uint8Array {
  const out: number[] = [];
  for (const ch of text) {
    let c = ch.codePointAt(0)!;
    if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  }
  return Uint8Array.from(out);
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const SEXTET = new Map([...ALPHABET].map((ch, i) => [ch.charCodeAt(0), i]));
const PAD = 0x3d;

/** Standard base64 with padding, `\r` and `\n` skipped; undefined when malformed. */
export function decodeBase64(input: Uint8Array): Uint8Array | undefined {
  const chars = input.filter((b) => b !== 0x0a && b !== 0x0d);
  if (chars.length % 4 !== 0) return undefined;
  const out: number[] = [];
  for (let i = 0; i < chars.length; i += 4) {
    const last = i + 4 === chars.length;
    const quad = chars.subarray(i, i + 4);
    const pads = quad[3] === PAD ? (quad[2] === PAD ? 2 : 1) : 0;
    if (pads > 0 && !last) return undefined;
    let bits = 0;
    for (let j = 0; j < 4 - pads; j++) {
      const v = SEXTET.get(quad[j]!);
      if (v === undefined) return undefined;
      bits = (bits << 6) | v;
    }
    bits <<= 6 * pads;
    out.push((bits >> 16) & 255);
    if (pads < 2) out.push((bits >> 8) & 255);
    if (pads < 1) out.push(bits & 255);
  }
  return Uint8Array.from(out);
}

function isEncodingName(name: string): name is keyof typeof ENCODINGS {
  return Object.hasOwn(ENCODINGS, name);
}

/** The content after decoding `encoding` (`''` = none), or undefined when it cannot be decoded. */
export function decodeContent(content: Uint8Array, encoding: string, gunzip: Gunzip): Uint8Array | undefined {
  if (encoding === '') return content;
  if (!isEncodingName(encoding)) return undefined;
  const kind = ENCODINGS[encoding];
  const compressed = kind === 'gzip' ? content : decodeBase64(content);
  if (compressed === undefined || kind === 'base64') return compressed;
  try {
    return gunzip(compressed);
  } catch {
    return undefined;
  }
}

/** The bytes a `content` node holds: its text in UTF-8, or the bytes of a `!!binary` scalar. */
export function contentBytes(node: TreeNode | undefined): Uint8Array | undefined {
  if (node === undefined || (node.kind === 'scalar' && node.type === 'null')) return new Uint8Array(0);
  if (node.kind !== 'scalar') return undefined;
  return node.bytes ?? utf8Encode(node.text);
}
