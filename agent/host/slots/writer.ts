/**
 * Writes and reads back a slot's bytes, addressed by the partition's offset on the whole
 * disk (partition device nodes need not exist). Refuses the booted slot and any write past
 * the partition's end.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { AgentError } from '../../core/errors.js';
import type { Slot, SlotName } from './slots.js';

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

/** Open `slot` of `disk` for writing; `booted` is the running slot, which is refused. */
export async function openSlotWriter(disk: string, slot: Slot, booted: SlotName | undefined): Promise<SlotWriter> {
  assertNotBooted(disk, slot, booted);
  const fh: FileHandle = await open(disk, 'r+');
  const bounds = (position: number, length: number): void => {
    if (position < 0 || position + length > slot.size) {
      throw new AgentError({
        code: 'slots.out-of-bounds',
        message: `${length} bytes at ${position} do not fit in ${slot.label} (${slot.size} bytes)`,
        subject: disk,
        hint: 'The payload is larger than the partition; use a release built for this disk layout',
      });
    }
  };
  return {
    slot,
    async write(data, position) {
      bounds(position, data.length);
      let done = 0;
      while (done < data.length) {
        const { bytesWritten } = await fh.write(data, done, data.length - done, slot.offset + position + done);
        done += bytesWritten;
      }
    },
    async read(into, position, length) {
      bounds(position, length);
      const { bytesRead } = await fh.read(into, 0, length, slot.offset + position);
      return bytesRead;
    },
    sync: () => fh.sync(),
    close: () => fh.close(),
  };
}
