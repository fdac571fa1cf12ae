/**
 * Stages a verified release into the inactive slot, in this order:
 *  1. mark the target unbootable (priority 0, tries 0, successful 0) and start a journal;
 *  2. stream download → decompress → digest (the release's sha512, or sha256 for an Omaha
 *     offer) → write at the slot's offset, in `chunkBytes` writes, with an fsync and an
 *     atomic journal checkpoint every `checkpointBytes`;
 *  3. check size and digest against the release, fsync, re-read the written range and
 *     check its digest again; then the channel's own check of the written bytes, if any
 *     (an Omaha payload's detached signature); with `payload.verity`, `veritysetup verify`
 *     the slot against the signed root hash (./verity.ts): that re-reads the bytes the root
 *     hash covers, so the digest read-back checks only the others (padding, a superblock);
 *  4. write the slot's boot entry (`verity.usrhash=`), then `successful=0 tries=1` and a
 *     priority above the booted slot's, journal `staged`;
 *  5. write the reboot-required flag file.
 * An interrupted run resumes from the journal's synced, re-hashed prefix (uncompressed
 * payloads, by an HTTP range request) or restarts from byte 0. The booted slot is never
 * written; until step 4 the bootloader cannot pick the target. Nothing is installed while
 * the booted slot is on trial (not yet successful): the other slot is the one to fall back to.
 * The read-back of step 3 runs behind the download: each range is re-read and hashed after
 * its checkpoint fsync while the next range arrives; the last range after the final fsync.
 * Memory use is bounded by two chunk buffers plus stream buffers, whatever the payload size.
 */
import { createHash, type Hash } from 'node:crypto';
import { Readable } from 'node:stream';
import { AgentError } from '../../core/errors.js';
import { imageDigest } from '../../core/update/release.js';
import { writeFileAtomic } from '../fs/atomic.js';
import { readBootedSlot } from '../slots/booted.js';
import { otherSlot, promoteChanges, readSlots, updateSlotAttributes, type Slot, type SlotName, type SlotPair } from '../slots/slots.js';
import { openSlotWriter, type SlotWriter } from '../slots/writer.js';
import type { SignedRelease } from './channel.js';
import { bodyMeter, expectOk, httpGet, type HttpOptions, type HttpResponse } from '../net/http.js';
import { decompress } from '../stream/decompress.js';
import { clearJournal, readJournal, writeJournal, type StagingJournal } from './journal.js';
import type { UpdatePaths } from './paths.js';
import { writeBootEntry } from './boot-entry.js';
import { verityDataBytes, verityUncoveredRanges } from '../../core/update/verity.js';
import { verifySlotVerity, type VerityCheckOptions } from './verity.js';

export interface StageHooks {
  /** Writing begins into `target`; `resumedFrom` bytes were already there and checked. */
  onStart?(target: SlotName, resumedFrom: number): void;
  /** Bytes of the image written so far (including resumed ones). */
  onProgress?(bytesDone: number): void;
  /** The download is complete and its sha512 matched; the re-read check starts. */
  onVerifying?(): void;
  /** The slot checked out; attributes and the flag file are being written. */
  onFinalizing?(): void;
}

export interface StageOptions extends StageHooks {
  paths: UpdatePaths;
  http?: HttpOptions;
  /** fsync + journal checkpoint interval; default 64 MiB. */
  checkpointBytes?: number;
  /** Size of each write; default 1 MiB. */
  chunkBytes?: number;
  xzPath?: string;
  /**
   * A last check of the image as written (`read` streams the slot's bytes) before the slot
   * is made bootable: the channel's own (an Omaha payload's signature). A rejection leaves
   * the target unbootable and the journal cleared.
   */
  verifyWritten?: (read: Readable) => Promise<void>;
  /** veritysetup/losetup paths and deadline of the dm-verity check (its cancel is `http.signal`). */
  verity?: Omit<VerityCheckOptions, 'signal'>;
}

export interface StageResult {
  target: SlotName;
  resumedFrom: number;
  /** The release was already staged in the target by an earlier run; nothing was written. */
  alreadyStaged: boolean;
}

const MiB = 1024 * 1024;

function stagingError(code: `update.${string}`, message: string, subject: string, hint: string): AgentError {
  return new AgentError({ code, message, subject, hint });
}

/** Bytes `from`–`to` of the slot, read in `buf`-sized pieces into `hash`. */
async function hashSlot(writer: SlotWriter, from: number, to: number, hash: Hash, buf: Buffer): Promise<Hash> {
  for (let pos = from; pos < to; ) {
    const n = await writer.read(buf, pos, Math.min(buf.length, to - pos));
    if (n === 0) break;
    hash.update(buf.subarray(0, n));
    pos += n;
  }
  return hash;
}

/** The slot's bytes `0`–`size` as a stream. */
function slotStream(writer: SlotWriter, size: number, chunkBytes: number): Readable {
  return Readable.from((async function* () {
    for (let pos = 0; pos < size; ) {
      const buf = Buffer.alloc(Math.min(chunkBytes, size - pos));
      const n = await writer.read(buf, pos, buf.length);
      if (n === 0) return;
      yield buf.subarray(0, n);
      pos += n;
    }
  })());
}

/** The parts of `[from, to)` inside `ranges`; all of it when `ranges` is undefined. */
function within(ranges: ReadonlyArray<[number, number]> | undefined, from: number, to: number): Array<[number, number]> {
  if (!ranges) return from < to ? [[from, to]] : [];
  return ranges.map(([a, b]): [number, number] => [Math.max(a, from), Math.min(b, to)]).filter(([a, b]) => a < b);
}

function sameRelease(j: StagingJournal, signed: SignedRelease, slot: Slot): boolean {
  return j.sha512 === imageDigest(signed.release).hex && j.size === signed.release.payload.size && j.partUuid === slot.partUuid;
}

/** Whether the journal's release is staged in the slot that is not booted and the bootloader will try it next. */
export function isStagedForNextBoot(journal: StagingJournal | undefined, slots: SlotPair, booted: SlotName): boolean {
  const slot = slots[otherSlot(booted)];
  return journal?.phase === 'staged' && journal.partUuid === slot.partUuid &&
    slot.attributes.tries > 0 && slot.attributes.priority > slots[booted].attributes.priority;
}

/** Stage `signed` into the slot that is not booted. */
export async function stageRelease(signed: SignedRelease, options: StageOptions): Promise<StageResult> {
  const { paths } = options;
  const { release } = signed;
  const size = release.payload.size;
  const digest = imageDigest(release);
  const { booted, slots } = await readBootedSlot(paths);
  const target = otherSlot(booted);
  const slot = slots[target];
  if (!slots[booted].attributes.successful) {
    throw stagingError('update.booted-on-trial', `${slots[booted].label} runs on trial (not marked good yet): installing now would overwrite ${slot.label}, the slot to fall back to`, paths.disk, 'Wait until the after-boot health check marks the running slot good (agentctl update status, "Boot check"), or reboot to fall back');
  }
  const verity = release.payload.verity;
  // A tree in a partition: image bytes from the end of the data on go to USR-X-verity.
  const verityFrom = verity?.hashTree === 'partition' ? verityDataBytes(verity) : undefined;
  const capacity = verityFrom === undefined ? slot.size : Math.min(verityFrom, slot.size) + (slot.verity?.size ?? 0);
  if (size > capacity || (verityFrom !== undefined && (verityFrom > slot.size || !slot.verity))) {
    const where = verityFrom === undefined ? `${slot.label} (${slot.size} bytes)` : `${slot.label} (${slot.size} bytes) and ${slot.label}-verity (${slot.verity ? `${slot.verity.size} bytes` : 'missing'})`;
    throw stagingError('update.too-large', `the ${size}-byte image${verityFrom === undefined ? '' : ` (${verityFrom} bytes of data, then its hash tree)`} does not fit in ${where}`, signed.payloadUrl, 'Publish a release built for this disk layout');
  }

  const journal = await readJournal(paths.journalPath);
  if (journal && isStagedForNextBoot(journal, slots, booted) && sameRelease(journal, signed, slot)) {
    return { target, resumedFrom: size, alreadyStaged: true };
  }

  const chunk = Buffer.alloc(options.chunkBytes ?? MiB);
  const writer = await openSlotWriter(paths.disk, slot, booted, verityFrom);
  try {
    // 1. Resume from a checked prefix, or make the target unbootable and start over.
    let hash = createHash(digest.algorithm);
    let resumeFrom = 0;
    const resumable = release.payload.compression === 'none' && slot.attributes.priority === 0;
    if (journal?.phase === 'writing' && resumable && sameRelease(journal, signed, slot) && journal.verifiedBytes > 0) {
      await hashSlot(writer, 0, journal.verifiedBytes, hash, chunk);
      if (hash.copy().digest('hex') === journal.prefixSha512) {
        resumeFrom = journal.verifiedBytes;
      } else {
        hash = createHash(digest.algorithm);
      }
    }
    const base: StagingJournal = {
      phase: 'writing', version: release.version, sha512: digest.hex, size, partUuid: slot.partUuid,
      verifiedBytes: 0, prefixSha512: createHash(digest.algorithm).digest('hex'), release,
    };
    if (resumeFrom === 0) {
      await updateSlotAttributes(paths.disk, { [target]: { priority: 0, tries: 0, successful: false } }, booted);
      await writeJournal(paths.journalPath, base);
    }

    // 2. Download → decompress → hash → write.
    options.onStart?.(target, resumeFrom);
    let response: HttpResponse | undefined;
    if (resumeFrom < size) {
      response = await httpGet(signed.payloadUrl, { ...options.http, allowHttp: true, errors: 'update', rangeStart: resumeFrom });
      expectOk(response, 'payload', 'Check the release on the update server: its payload.url names no file');
    }
    if (response && resumeFrom > 0 && response.status !== 206) {
      resumeFrom = 0; // the server ignored the range: start over on the same target
      hash = createHash(digest.algorithm);
      options.onProgress?.(0);
    }
    // Checkpoints (fsync, then the journal) and the read-back check run behind the download,
    // one checkpoint at a time: each synced range is read from the disk and hashed while the
    // next one arrives (a resumed prefix was read from the disk already).
    // With verity, veritysetup re-reads what the root hash covers: the sha512 read-back takes
    // the rest (from here on), checked against the same bytes hashed as they were written.
    const readbackRanges = verity ? verityUncoveredRanges(verity, size) : undefined;
    const expectedReadback = readbackRanges ? createHash('sha512') : undefined;
    const readbackHash = readbackRanges ? createHash('sha512') : hash.copy();
    let readbackPos = resumeFrom;
    let background: Promise<void> = Promise.resolve();
    const readbackBuf = Buffer.alloc(chunk.length);
    const checkpoint = (at: number, journal: StagingJournal | undefined): void => {
      background = background.then(async () => {
        await writer.sync();
        if (journal) await writeJournal(paths.journalPath, journal);
        for (const [from, to] of within(readbackRanges, readbackPos, at)) await hashSlot(writer, from, to, readbackHash, readbackBuf);
        readbackPos = at;
      });
      background.catch(() => undefined); // surfaced by the next await
    };
    let pos = resumeFrom;
    let fill = 0;
    let lastCheckpoint = pos;
    const checkpointBytes = options.checkpointBytes ?? 64 * MiB;
    const flush = async (): Promise<void> => {
      if (fill === 0) return;
      if (pos + fill > size) {
        throw stagingError('update.size-mismatch', `the payload is longer than the ${size} bytes the release names`, signed.payloadUrl, 'The payload on the server does not match its release manifest; republish the release');
      }
      const data = chunk.subarray(0, fill);
      hash.update(data);
      for (const [from, to] of expectedReadback ? within(readbackRanges, pos, pos + fill) : []) expectedReadback!.update(data.subarray(from - pos, to - pos));
      await writer.write(data, pos);
      pos += fill;
      fill = 0;
      if (pos - lastCheckpoint >= checkpointBytes) {
        await background; // the previous checkpoint first: the disk sets the pace when it is slower
        checkpoint(pos, { ...base, verifiedBytes: pos, prefixSha512: hash.copy().digest('hex') });
        lastCheckpoint = pos;
      }
      options.onProgress?.(pos);
    };
    try {
      const pieces = response
        ? decompress(bodyMeter(response), release.payload.compression, signed.payloadUrl, { errors: 'update', xzPath: options.xzPath })
        : [];
      for await (const piece of pieces) {
        for (let off = 0; off < piece.length; ) {
          const n = Math.min(piece.length - off, chunk.length - fill);
          piece.copy(chunk, fill, off, off + n);
          fill += n;
          off += n;
          if (fill === chunk.length) await flush();
        }
      }
      await flush();
      await background;
    } catch (e) {
      response?.body.destroy();
      await background.catch(() => undefined); // no journal write after the caller reads it
      if (e instanceof AgentError) throw e;
      throw new AgentError({ code: 'update.fetch-failed', message: `the download broke off at byte ${pos}: ${(e as Error).message}`, subject: signed.payloadUrl, hint: 'It resumes on the next attempt; check the connection to the update server', cause: e });
    }

    // 3. Verify what was downloaded, then what is on the disk.
    if (pos !== size) {
      await clearJournal(paths.journalPath);
      throw stagingError('update.size-mismatch', `the payload has ${pos} bytes, the release names ${size}`, signed.payloadUrl, 'The payload on the server does not match its release manifest; republish the release');
    }
    if (hash.digest('hex') !== digest.hex) {
      await clearJournal(paths.journalPath);
      throw stagingError('update.hash-mismatch', `the payload's ${digest.algorithm} does not match the release`, signed.payloadUrl, 'The payload was changed or damaged; the slot stays unbootable. Check the server and try again');
    }
    options.onVerifying?.();
    checkpoint(size, undefined);
    await background;
    const onDisk = readbackHash.digest('hex');
    if (onDisk !== (expectedReadback?.digest('hex') ?? digest.hex)) {
      await clearJournal(paths.journalPath);
      throw stagingError('update.readback-mismatch', `${slot.label} does not read back what was written`, paths.disk, 'The disk may be failing; check its health (smartctl, dmesg) before trying again');
    }
    if (options.verifyWritten) {
      await options.verifyWritten(slotStream(writer, size, chunk.length)).catch(async (e: unknown) => {
        await clearJournal(paths.journalPath);
        throw e;
      });
    }
    if (verity) {
      try {
        await verifySlotVerity(paths.disk, slot, verity, { ...options.verity, ...(options.http?.signal && { signal: options.http.signal }) });
      } catch (e) {
        if (!(e instanceof AgentError) || e.code !== 'update.cancelled') await clearJournal(paths.journalPath);
        throw e;
      }
    }

    // 4-5. Make it the next boot, remember it is staged, ask for a reboot.
    options.onFinalizing?.();
    await writeBootEntry(paths.bootEntriesDir, {
      label: slot.label, version: release.version, partUuid: slot.partUuid,
      ...(verity && { verity: { verity, hashPartUuid: verity.hashTree === 'partition' ? slot.verity!.partUuid : slot.partUuid } }),
    });
    await updateSlotAttributes(paths.disk, promoteChanges(await readSlots(paths.disk), target), booted);
    await writeJournal(paths.journalPath, { ...base, phase: 'staged', verifiedBytes: size, prefixSha512: digest.hex });
    await writeFileAtomic(paths.rebootRequiredPath, '', { mkdirs: true });
    return { target, resumedFrom: resumeFrom, alreadyStaged: false };
  } finally {
    await writer.close();
  }
}
