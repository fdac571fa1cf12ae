/**
 * Hostile archives for tests and benchmarks, built from raw tar blocks: decompression bombs
 * (gigabytes of zeros in a few MB of gzip or xz, the manifest last so that a reader looking
 * for it must decompress everything) and metadata bombs (PAX records carrying huge extended
 * attributes). A compressed stream is a concatenation of members (gzip) or streams (xz),
 * each compressed once and repeated, so that building an 8 GiB bomb takes a second.
 */
import { execFileSync } from 'node:child_process';
import { open } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { imageManifest } from './aci.js';

export type BombCompression = 'gzip' | 'xz';

const BLOCK = 512;

/** A ustar header block. */
export function tarHeader(name: string, size: number, type: 'file' | 'directory' | 'pax' = 'file'): Buffer {
  const h = Buffer.alloc(BLOCK);
  const field = (offset: number, length: number, value: string): void => void h.write(value, offset, length, 'latin1');
  const octal = (n: number, length: number): string => n.toString(8).padStart(length - 1, '0');
  field(0, 100, name);
  field(100, 8, octal(type === 'directory' ? 0o755 : 0o644, 8));
  field(108, 8, octal(0, 8));
  field(116, 8, octal(0, 8));
  field(124, 12, octal(size, 12));
  field(136, 12, octal(0, 12));
  field(156, 1, type === 'directory' ? '5' : type === 'pax' ? 'x' : '0');
  field(257, 6, 'ustar\0');
  field(263, 2, '00');
  h.fill(' ', 148, 156);
  let sum = 0;
  for (const byte of h) sum += byte;
  field(148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  return h;
}

const pad = (length: number): Buffer => Buffer.alloc((BLOCK - (length % BLOCK)) % BLOCK);

/** A whole tar entry: header, content, padding. */
export function tarEntry(name: string, content: Buffer | string, type: 'file' | 'pax' = 'file'): Buffer {
  const body = Buffer.from(content);
  return Buffer.concat([tarHeader(name, body.length, type), body, pad(body.length)]);
}

/** One PAX record, `LEN KEY=VALUE\n` (LEN counting itself). */
export function paxRecord(key: string, value: string): string {
  const rest = ` ${key}=${value}\n`;
  let length = Buffer.byteLength(rest) + 1;
  while (String(length).length + Buffer.byteLength(rest) !== length) length++;
  return `${length}${rest}`;
}

function compress(data: Buffer, compression: BombCompression): Buffer {
  return compression === 'gzip' ? gzipSync(data, { level: 9 }) : execFileSync('xz', ['-6', '-c'], { input: data, maxBuffer: 1 << 30 });
}

const END = Buffer.alloc(2 * BLOCK);
const ZEROS_PER_MEMBER = 64 << 20;
const ZERO_FILE_BYTES = 1 << 30;

/**
 * A decompression bomb of about `compressedBytes`: an image named `name` whose rootfs holds
 * files of 1 GiB of zeros, as many as it takes, and its manifest as the last entry.
 * Resolves with the bytes it unpacks to.
 */
export async function writeZeroBomb(file: string, name: string, compression: BombCompression, compressedBytes: number): Promise<number> {
  const zeros = compress(Buffer.alloc(ZEROS_PER_MEMBER), compression);
  const out = await open(file, 'wx');
  let written = 0;
  let unpacked = 0;
  const put = async (data: Buffer, plain: number): Promise<void> => {
    await out.write(data);
    written += data.length;
    unpacked += plain;
  };
  try {
    const head = tarHeader('rootfs/', 0, 'directory');
    await put(compress(head, compression), head.length);
    for (let i = 0; written < compressedBytes; i++) {
      const header = tarHeader(`rootfs/zeros-${i}`, ZERO_FILE_BYTES);
      await put(compress(header, compression), header.length);
      for (let done = 0; done < ZERO_FILE_BYTES; done += ZEROS_PER_MEMBER) await put(zeros, ZEROS_PER_MEMBER);
    }
    const tail = Buffer.concat([tarEntry('manifest', imageManifest(name)), END]);
    await put(compress(tail, compression), tail.length);
  } finally {
    await out.close();
  }
  return unpacked;
}

/**
 * A metadata bomb, gzip-compressed: an image named `name` whose manifest comes first, then
 * `entries` files each with a PAX header carrying one `user.` extended attribute of
 * `valueBytes` bytes. Resolves with the bytes it unpacks to.
 */
export async function writeXattrBomb(file: string, name: string, entries: number, valueBytes: number): Promise<number> {
  const out = await open(file, 'wx');
  let unpacked = 0;
  const put = async (data: Buffer, plain: number): Promise<void> => {
    await out.write(data);
    unpacked += plain;
  };
  const small = (plain: Buffer): Promise<void> => put(gzipSync(plain), plain.length);
  try {
    await small(Buffer.concat([tarEntry('manifest', imageManifest(name)), tarHeader('rootfs/', 0, 'directory')]));
    // The records are the same for every entry: compressed once, repeated as a gzip member.
    const records = Buffer.from(paxRecord('SCHILY.xattr.user.bomb', 'x'.repeat(valueBytes)));
    const body = Buffer.concat([records, pad(records.length)]);
    const packed = gzipSync(body, { level: 9 });
    for (let i = 0; i < entries; i++) {
      await small(tarHeader(`PaxHeaders/f${i}`, records.length, 'pax'));
      await put(packed, body.length);
      await small(tarHeader(`rootfs/f${i}`, 0));
    }
    await small(END);
  } finally {
    await out.close();
  }
  return unpacked;
}
