/**
 * dm-verity of a USR image, as a signed release describes it (`payload.verity` of
 * release.json): the root hash, salt, hash algorithm, block sizes, data block count and
 * where the hash tree lies. Two layouts:
 *  - `appended` (Flatcar): the tree is inside the payload, at `hashOffset` bytes after the
 *    start of the image, behind the data; the whole payload goes to the USR slot;
 *  - `partition` (systemd-repart): the payload is the data (`dataBlocks × dataBlockSize`
 *    bytes) followed by the hash image; the data goes to USR-X, the hash image to the GPT
 *    partition labelled `USR-X-verity` next to it, from its first byte.
 * Pure: parsing, the hash tree's size, the boot command line words of a verified slot.
 */

export const VERITY_ALGORITHMS = ['sha256', 'sha512', 'sha1'] as const;
export type VerityAlgorithm = (typeof VERITY_ALGORITHMS)[number];
export const VERITY_LAYOUTS = ['appended', 'partition'] as const;
export type VerityLayout = (typeof VERITY_LAYOUTS)[number];

const DIGEST_BYTES: Record<VerityAlgorithm, number> = { sha256: 32, sha512: 64, sha1: 20 };

export interface Verity {
  /** Lower-case hex root hash: the one veritysetup must find, and the boot entry's `verity.usrhash=`. */
  rootHash: string;
  /** Lower-case hex salt (may be empty: no salt). */
  salt: string;
  hashAlgorithm: VerityAlgorithm;
  /** Bytes per data block; default 4096. */
  dataBlockSize: number;
  /** Bytes per hash block; default 4096. */
  hashBlockSize: number;
  /** Data blocks covered by the tree. */
  dataBlocks: number;
  hashTree: VerityLayout;
  /**
   * Byte offset of the hash area: inside the image for `appended` (at or after the data);
   * always 0 for `partition` (the hash image starts the verity partition).
   */
  hashOffset: number;
  /** The hash area starts with veritysetup's superblock (one hash block); default true, as `veritysetup format` makes it. */
  superblock: boolean;
}

/** Thrown for a bad `payload.verity`; the caller wraps it with the manifest's subject. */
export class VerityFieldError extends Error {}

function blockSize(value: unknown, field: string): number {
  if (value === undefined) return 4096;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 512 || value > 65536 || (value & (value - 1)) !== 0) {
    throw new VerityFieldError(`payload.verity.${field} ${JSON.stringify(value)} is not a power of two from 512 to 65536`);
  }
  return value;
}

/** Bytes of the hash tree (without superblock) over `dataBlocks`, as dm-verity format 1 lays it out (one data block: no tree, its hash is the root). */
export function hashTreeBytes(v: Pick<Verity, 'hashAlgorithm' | 'hashBlockSize' | 'dataBlocks'>): number {
  const perBlock = 2 ** Math.floor(Math.log2(v.hashBlockSize / DIGEST_BYTES[v.hashAlgorithm]));
  let blocks = 0;
  for (let level = v.dataBlocks; level > 1; blocks += level) level = Math.ceil(level / perBlock);
  return blocks * v.hashBlockSize;
}

/** Bytes of the image's data area (`dataBlocks × dataBlockSize`). */
export function verityDataBytes(v: Pick<Verity, 'dataBlocks' | 'dataBlockSize'>): number {
  return v.dataBlocks * v.dataBlockSize;
}

/** Bytes from the start of the hash area to the end of the tree (superblock included). */
export function verityHashAreaBytes(v: Verity): number {
  return (v.superblock ? v.hashBlockSize : 0) + hashTreeBytes(v);
}

/**
 * The byte ranges `[from, to)` of the image that `veritysetup verify` reads and checks
 * against the root hash (the data, the tree; not a superblock), in image order.
 */
export function verityCoveredRanges(v: Verity): Array<[number, number]> {
  const tree = (v.hashTree === 'appended' ? v.hashOffset : verityDataBytes(v)) + (v.superblock ? v.hashBlockSize : 0);
  return [[0, verityDataBytes(v)], [tree, tree + hashTreeBytes(v)]];
}

/** The byte ranges of a `size`-byte image that the root hash does not cover (padding, a superblock). */
export function verityUncoveredRanges(v: Verity, size: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let pos = 0;
  for (const [from, to] of verityCoveredRanges(v)) {
    if (from > pos) out.push([pos, from]);
    pos = Math.max(pos, to);
  }
  if (pos < size) out.push([pos, size]);
  return out;
}

/**
 * Validate `json` (the `payload.verity` object) for a payload of `payloadSize` bytes: every
 * field typed, the root hash as long as the algorithm's digest, and the data and the whole
 * tree inside the payload (a truncated image is refused before anything is written).
 */
export function parseVerity(json: unknown, payloadSize: number): Verity {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new VerityFieldError('payload.verity is not an object');
  const known = ['rootHash', 'salt', 'hashAlgorithm', 'dataBlockSize', 'hashBlockSize', 'dataBlocks', 'hashTree', 'hashOffset', 'superblock'];
  const o = json as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => !known.includes(k));
  if (unknown.length > 0) throw new VerityFieldError(`payload.verity has unknown field ${unknown.map((k) => JSON.stringify(k)).join(', ')} (known: ${known.join(', ')})`);
  const { rootHash, salt = '', hashAlgorithm = 'sha256', dataBlocks, hashTree, hashOffset, superblock = true } = o;
  if (!VERITY_ALGORITHMS.includes(hashAlgorithm as VerityAlgorithm)) {
    throw new VerityFieldError(`payload.verity.hashAlgorithm ${JSON.stringify(hashAlgorithm)} is not one of ${VERITY_ALGORITHMS.join(', ')}`);
  }
  const algorithm = hashAlgorithm as VerityAlgorithm;
  const digestHex = DIGEST_BYTES[algorithm] * 2;
  if (typeof rootHash !== 'string' || rootHash.length !== digestHex || !/^[0-9a-fA-F]+$/.test(rootHash)) {
    throw new VerityFieldError(`payload.verity.rootHash is not ${digestHex} hex digits (a ${algorithm} digest)`);
  }
  if (typeof salt !== 'string' || salt.length % 2 !== 0 || salt.length > 512 || !/^[0-9a-fA-F]*$/.test(salt)) {
    throw new VerityFieldError('payload.verity.salt is not hex of whole bytes, at most 256 bytes');
  }
  const dataBlockSize = blockSize(o.dataBlockSize, 'dataBlockSize');
  const hashBlockSize = blockSize(o.hashBlockSize, 'hashBlockSize');
  if (typeof dataBlocks !== 'number' || !Number.isSafeInteger(dataBlocks) || dataBlocks <= 0) {
    throw new VerityFieldError(`payload.verity.dataBlocks ${JSON.stringify(dataBlocks)} is not a positive integer`);
  }
  if (!VERITY_LAYOUTS.includes(hashTree as VerityLayout)) {
    throw new VerityFieldError(`payload.verity.hashTree ${JSON.stringify(hashTree)} is not one of ${VERITY_LAYOUTS.join(', ')}`);
  }
  if (typeof superblock !== 'boolean') throw new VerityFieldError('payload.verity.superblock is not true or false');
  const layout = hashTree as VerityLayout;
  const dataBytes = dataBlocks * dataBlockSize;
  let offset: number;
  if (layout === 'appended') {
    if (typeof hashOffset !== 'number' || !Number.isSafeInteger(hashOffset) || hashOffset % 512 !== 0 || hashOffset < dataBytes) {
      throw new VerityFieldError(`payload.verity.hashOffset ${JSON.stringify(hashOffset)} must be a multiple of 512 at or after the data's end (${dataBytes} bytes) when the tree is appended`);
    }
    offset = hashOffset;
  } else {
    if (hashOffset !== undefined && hashOffset !== 0) {
      throw new VerityFieldError('payload.verity.hashOffset must be absent or 0 when the tree is in a partition (the hash image starts the verity partition)');
    }
    offset = dataBytes;
  }
  const v: Verity = {
    rootHash: rootHash.toLowerCase(), salt: salt.toLowerCase(), hashAlgorithm: algorithm, dataBlockSize, hashBlockSize, dataBlocks,
    hashTree: layout, hashOffset: layout === 'appended' ? offset : 0, superblock,
  };
  const end = offset + verityHashAreaBytes(v);
  if (end > payloadSize) {
    throw new VerityFieldError(`the hash tree ends at byte ${end} of the image, past the payload's ${payloadSize} bytes (a truncated image, or wrong dataBlocks/hashOffset)`);
  }
  return v;
}

/**
 * The words the slot's boot entry carries for a verified USR: the signed root hash as
 * Flatcar's initrd reads it (`verity.usrhash=`) and the layout in systemd-veritysetup's
 * terms, so a bootloader (or its test double) can check the slot against the hash.
 * `dataPartUuid`/`hashPartUuid` name the partitions; the same one when the tree is appended.
 */
export function verityCmdline(v: Verity, dataPartUuid: string, hashPartUuid: string): string[] {
  const options = [
    `hash=${v.hashAlgorithm}`, `data-block-size=${v.dataBlockSize}`, `hash-block-size=${v.hashBlockSize}`, `data-blocks=${v.dataBlocks}`,
    `hash-offset=${v.hashOffset}`, `superblock=${v.superblock}`, ...(v.salt === '' ? [] : [`salt=${v.salt}`]),
  ];
  return [
    `verity.usrhash=${v.rootHash}`,
    `systemd.verity_usr_data=PARTUUID=${dataPartUuid}`,
    `systemd.verity_usr_hash=PARTUUID=${hashPartUuid}`,
    `systemd.verity_usr_options=${options.join(',')}`,
  ];
}
