/**
 * Writes and reads back a slot's bytes, addressed by the partition's offset on the whole
 * disk (partition device nodes need not exist). Refuses the booted slot and any write past
 * the partition's end. An image whose dm-verity hash tree goes to the slot's verity
 * partition is split: bytes from `verityFrom` on land in `USR-X-verity` from its first byte.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { AgentError } from '../../core/errors.js';
import type { PartitionExtent, Slot, SlotName } from './slots.js';

export interface SlotWriter {
  readonly slot: Slot;
  /** Write all of `data` at byte `position` of the partition. */
  write(data: Uint8Array, position: number): Promise<void>;
  /** Read up to `length` bytes at byte `position` of the partition into `into`. */
  read(into: Uint8Array, position: number, length: number): Promise<number>;
  /** Make every write so far durable. */
  sync(): Promise<void>;
  close(): Promise<void>;
}

function assertNotBooted(disk: string, slot: Slot, booted: SlotName | undefined): void {
  if (slot.name === booted) {
    throw new AgentError({
      code: 'slots.booted-slot',
      message: `refusing to write the booted slot ${slot.label}`,
      subject: disk,
      hint: 'Updates go to the inactive slot; check that the kernel command line names the slot that is really booted',
    });
  }
}

/** Where image bytes go: `part` holds image bytes `from` to `from + part.size`. */
interface Region {
  part: PartitionExtent;
  from: number;
}

/**
 * Open `slot` of `disk` for writing; `booted` is the running slot, which is refused. With
 * `verityFrom`, image bytes from there on go to the slot's verity partition.
 */
export async function openSlotWriter(disk: string, slot: Slot, booted: SlotName | undefined, verityFrom?: number): Promise<SlotWriter> {
  assertNotBooted(disk, slot, booted);
  let regions: Region[] = [{ part: slot, from: 0 }];
  if (verityFrom !== undefined) {
    if (!slot.verity) {
      throw new AgentError({
        code: 'slots.missing',
        message: `the image's hash tree goes to a partition labelled ${slot.label}-verity, and the disk has none`,
        subject: disk,
        hint: `Partition the disk with a ${slot.label}-verity partition next to ${slot.label}, or publish the release with the tree appended`,
      });
    }
    if (verityFrom > slot.size) {
      throw new AgentError({
        code: 'slots.out-of-bounds',
        message: `the image's ${verityFrom} bytes of data do not fit in ${slot.label} (${slot.size} bytes)`,
        subject: disk,
        hint: 'The payload is larger than the partition; use a release built for this disk layout',
      });
    }
    regions = [{ part: { ...slot, size: verityFrom }, from: 0 }, { part: slot.verity, from: verityFrom }];
  }
  const end = regions.at(-1)!.from + regions.at(-1)!.part.size;
  const fh: FileHandle = await open(disk, 'r+');
  /** The pieces of `length` image bytes at `position`, each inside one region. */
  const pieces = (position: number, length: number): Array<{ at: number; skip: number; n: number }> => {
    if (position < 0 || position + length > end) {
      throw new AgentError({
        code: 'slots.out-of-bounds',
        message: `${length} bytes at ${position} do not fit in ${regions.map((r) => `${r.part.label} (${r.part.size} bytes)`).join(' and ')}`,
        subject: disk,
        hint: 'The payload is larger than the partition; use a release built for this disk layout',
      });
    }
    const out = [];
    for (let done = 0; done < length; ) {
      const r = regions.find((x) => position + done < x.from + x.part.size)!;
      const n = Math.min(length - done, r.from + r.part.size - (position + done));
      out.push({ at: r.part.offset + position + done - r.from, skip: done, n });
      done += n;
    }
    return out;
  };
  return {
    slot,
    async write(data, position) {
      for (const { at, skip, n } of pieces(position, data.length)) {
        for (let done = 0; done < n; ) {
          const { bytesWritten } = await fh.write(data, skip + done, n - done, at + done);
          done += bytesWritten;
        }
      }
    },
    async read(into, position, length) {
      let total = 0;
      for (const { at, skip, n } of pieces(position, length)) {
        const { bytesRead } = await fh.read(into, skip, n, at);
        total += bytesRead;
        if (bytesRead < n) break;
      }
      return total;
    },
    sync: () => fh.sync(),
    close: () => fh.close(),
  };
}
