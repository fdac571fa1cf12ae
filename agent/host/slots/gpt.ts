/**
 * Reads and rewrites a GUID Partition Table on a disk image file or a block device.
 *
 * Invariants: a write always produces two valid copies (primary header + entry array at
 * LBA 1, backup at the disk's last LBA), each with its header CRC32 and entry-array CRC32
 * recomputed; bytes we do not interpret (reserved header fields, other entries, attribute
 * bits) are kept as read. The primary copy is written and synced before the backup, so an
 * interrupted write leaves at least one valid copy; reading falls back to the backup when
 * the primary is damaged, and the next write repairs both.
 */
import type { FileHandle } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { AgentError } from '../../core/errors.js';
import { guidFromBytes } from './guid.js';

export interface GptEntry {
  /** 1-based partition number, as sgdisk and cgpt count. */
  index: number;
  typeGuid: string;
  uniqueGuid: string;
  firstLba: bigint;
  lastLba: bigint;
  /** The whole 64-bit attribute field. */
  attributes: bigint;
  /** The UTF-16LE name, up to the first NUL. */
  name: string;
}

export interface GptTable {
  sectorSize: number;
  diskGuid: string;
  /** Used (non-zero type GUID) entries only, in table order. */
  entries: GptEntry[];
  /** Which copies were valid when read; a write makes both valid again. */
  valid: { primary: boolean; backup: boolean };
  /** Raw header and entry array bytes, kept so a rewrite preserves what we do not parse. */
  raw: { header: Buffer; entryArray: Buffer; backupLba: bigint; primaryEntriesLba: bigint; backupEntriesLba: bigint };
}

const SIGNATURE = 'EFI PART';
const HEADER_MIN = 92;
const ENTRY_NAME_BYTES = 72;
const SECTOR_SIZES = [512, 4096] as const;

interface ParsedHeader {
  buf: Buffer;
  currentLba: bigint;
  backupLba: bigint;
  entriesLba: bigint;
  entryCount: number;
  entrySize: number;
  diskGuid: string;
}

function headerCrc(buf: Buffer): number {
  const copy = Buffer.from(buf);
  copy.writeUInt32LE(0, 16);
  return crc32(copy);
}

function parseHeader(sector: Buffer): ParsedHeader | undefined {
  if (sector.toString('latin1', 0, 8) !== SIGNATURE) return undefined;
  const size = sector.readUInt32LE(12);
  if (size < HEADER_MIN || size > sector.length) return undefined;
  const buf = Buffer.from(sector.subarray(0, size));
  if (headerCrc(buf) !== buf.readUInt32LE(16)) return undefined;
  const entrySize = buf.readUInt32LE(84);
  const entryCount = buf.readUInt32LE(80);
  if (entrySize < 128 || entrySize % 8 !== 0 || entryCount === 0 || entryCount > 1024) return undefined;
  return {
    buf,
    currentLba: buf.readBigUInt64LE(24),
    backupLba: buf.readBigUInt64LE(32),
    entriesLba: buf.readBigUInt64LE(72),
    entryCount,
    entrySize,
    diskGuid: guidFromBytes(buf, 56),
  };
}

async function readAt(fh: FileHandle, position: bigint, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  const { bytesRead } = await fh.read(buf, 0, length, Number(position));
  return buf.subarray(0, bytesRead);
}

async function writeAt(fh: FileHandle, position: bigint, data: Buffer): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await fh.write(data, done, data.length - done, Number(position) + done);
    done += bytesWritten;
  }
}

/** The header at `lba` plus its entry array, if both check out. */
async function readCopy(fh: FileHandle, sectorSize: number, lba: bigint): Promise<{ header: ParsedHeader; entryArray: Buffer } | undefined> {
  const header = parseHeader(await readAt(fh, lba * BigInt(sectorSize), sectorSize));
  if (!header || header.currentLba !== lba) return undefined;
  const length = header.entryCount * header.entrySize;
  const entryArray = await readAt(fh, header.entriesLba * BigInt(sectorSize), length);
  if (entryArray.length !== length || crc32(entryArray) !== header.buf.readUInt32LE(88)) return undefined;
  return { header, entryArray };
}

function parseEntries(entryArray: Buffer, entrySize: number): GptEntry[] {
  const entries: GptEntry[] = [];
  for (let i = 0; i * entrySize < entryArray.length; i++) {
    const e = entryArray.subarray(i * entrySize, (i + 1) * entrySize);
    if (e.subarray(0, 16).every((b) => b === 0)) continue;
    const nameRaw = e.toString('utf16le', 56, 56 + ENTRY_NAME_BYTES);
    const nul = nameRaw.indexOf('\0');
    entries.push({
      index: i + 1,
      typeGuid: guidFromBytes(e, 0),
      uniqueGuid: guidFromBytes(e, 16),
      firstLba: e.readBigUInt64LE(32),
      lastLba: e.readBigUInt64LE(40),
      attributes: e.readBigUInt64LE(48),
      name: nul < 0 ? nameRaw : nameRaw.slice(0, nul),
    });
  }
  return entries;
}

/** Read the partition table; `subject` names the disk in errors. */
export async function readGpt(fh: FileHandle, subject: string): Promise<GptTable> {
  for (const sectorSize of SECTOR_SIZES) {
    const primary = await readCopy(fh, sectorSize, 1n);
    const alternateLba = primary?.header.backupLba ?? (await lastLbaGuess(fh, sectorSize));
    const backup = alternateLba === undefined ? undefined : await readCopy(fh, sectorSize, alternateLba);
    const good = primary ?? backup;
    if (!good) continue;
    const backupLba = primary ? primary.header.backupLba : good.header.currentLba;
    const arraySectors = BigInt(Math.ceil(good.entryArray.length / sectorSize));
    return {
      sectorSize,
      diskGuid: good.header.diskGuid,
      entries: parseEntries(good.entryArray, good.header.entrySize),
      valid: { primary: primary !== undefined, backup: backup !== undefined },
      raw: {
        header: good.header.buf,
        entryArray: good.entryArray,
        backupLba,
        primaryEntriesLba: primary?.header.entriesLba ?? 2n,
        backupEntriesLba: backup?.header.entriesLba ?? backupLba - arraySectors,
      },
    };
  }
  throw new AgentError({
    code: 'slots.no-gpt',
    message: 'no valid GUID partition table found (neither the primary nor the backup header checks out)',
    subject,
    hint: 'Check that this is the whole disk (not a partition) and that it was partitioned with GPT, e.g. `sgdisk -p DISK`',
  });
}

/** The last LBA of a regular file; block devices report size 0 and have no guess. */
async function lastLbaGuess(fh: FileHandle, sectorSize: number): Promise<bigint | undefined> {
  const { size } = await fh.stat();
  return size >= sectorSize * 3 ? BigInt(Math.floor(size / sectorSize) - 1) : undefined;
}

/** A header for the copy at `currentLba`, built from `template` with its CRCs recomputed. */
function buildHeader(template: Buffer, currentLba: bigint, otherLba: bigint, entriesLba: bigint, entryArray: Buffer): Buffer {
  const buf = Buffer.from(template);
  buf.writeBigUInt64LE(currentLba, 24);
  buf.writeBigUInt64LE(otherLba, 32);
  buf.writeBigUInt64LE(entriesLba, 72);
  buf.writeUInt32LE(crc32(entryArray), 88);
  buf.writeUInt32LE(headerCrc(buf), 16);
  return buf;
}

/**
 * Replace the attribute field of the given entries (by 1-based index) and write both copies
 * of the table. Returns the table as now on disk.
 */
export async function writeGptAttributes(
  fh: FileHandle,
  table: GptTable,
  changes: ReadonlyArray<{ index: number; attributes: bigint }>,
): Promise<GptTable> {
  const { header, backupLba, primaryEntriesLba, backupEntriesLba } = table.raw;
  const primaryLba = 1n;
  const entrySize = header.readUInt32LE(84);
  const entryArray = Buffer.from(table.raw.entryArray);
  for (const { index, attributes } of changes) {
    entryArray.writeBigUInt64LE(attributes, (index - 1) * entrySize + 48);
  }
  const sector = BigInt(table.sectorSize);
  const pad = (b: Buffer): Buffer => Buffer.concat([b, Buffer.alloc(table.sectorSize - b.length)]);

  await writeAt(fh, primaryEntriesLba * sector, entryArray);
  await writeAt(fh, primaryLba * sector, pad(buildHeader(header, primaryLba, backupLba, primaryEntriesLba, entryArray)));
  await fh.sync();
  await writeAt(fh, backupEntriesLba * sector, entryArray);
  await writeAt(fh, backupLba * sector, pad(buildHeader(header, backupLba, primaryLba, backupEntriesLba, entryArray)));
  await fh.sync();
  return {
    ...table,
    entries: parseEntries(entryArray, entrySize),
    valid: { primary: true, backup: true },
    raw: { ...table.raw, entryArray },
  };
}
