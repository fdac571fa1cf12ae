/**
 * The A/B view of a disk: finds the USR-A/USR-B partitions (by label and type GUID), each
 * slot's dm-verity partition when the disk has one (labelled `USR-A-verity`/`USR-B-verity`), and
 * changes their boot attributes. Each call opens the disk, reads the table fresh, writes
 * both GPT copies and closes, so the bootloader (or a simulator of it) may change the
 * table between calls. The booted slot is never made unbootable.
 */
import { open } from 'node:fs/promises';
import { AgentError } from '../../core/errors.js';
import { decodeSlotAttributes, encodeSlotAttributes, isBootable, type SlotAttributes } from './attributes.js';
import { readGpt, writeGptAttributes, type GptEntry, type GptTable } from './gpt.js';

export const USR_TYPE_GUID = '5dfbf5f4-2848-4bac-aa5e-0d9a20b745a6';
export const SLOT_NAMES = ['A', 'B'] as const;
export type SlotName = (typeof SLOT_NAMES)[number];
export const MAX_PRIORITY = 15;

/** A partition's place on the disk. */
export interface PartitionExtent {
  label: string;
  /** 1-based GPT partition number. */
  index: number;
  /** The partition's unique GUID (PARTUUID), lower case. */
  partUuid: string;
  /** Byte offset of the partition on the disk. */
  offset: number;
  /** Partition size in bytes. */
  size: number;
}

/** One of the A/B slots; `label` is `USR-A` or `USR-B`. */
export interface Slot extends PartitionExtent {
  name: SlotName;
  attributes: SlotAttributes;
  /** The whole 64-bit attribute field as read. */
  rawAttributes: bigint;
  /** The partition labelled `USR-A-verity`/`USR-B-verity` (any type GUID), when there is one. */
  verity?: PartitionExtent;
}

export type SlotPair = Record<SlotName, Slot>;

export function otherSlot(name: SlotName): SlotName {
  return name === 'A' ? 'B' : 'A';
}

export function slotLabel(name: SlotName): string {
  return `USR-${name}`;
}

/** The label of `name`'s dm-verity partition. */
export function verityLabel(name: SlotName): string {
  return `${slotLabel(name)}-verity`;
}

function slotsOf(table: GptTable, disk: string): SlotPair {
  const sector = BigInt(table.sectorSize);
  const extent = (e: GptEntry): PartitionExtent => ({
    label: e.name,
    index: e.index,
    partUuid: e.uniqueGuid,
    offset: Number(e.firstLba * sector),
    size: Number((e.lastLba - e.firstLba + 1n) * sector),
  });
  const find = (name: SlotName): Slot => {
    const label = slotLabel(name);
    const matches = table.entries.filter((e) => e.name === label && e.typeGuid === USR_TYPE_GUID);
    if (matches.length !== 1) {
      throw new AgentError({
        code: matches.length === 0 ? 'slots.missing' : 'slots.ambiguous',
        message: `${matches.length === 0 ? 'no' : 'more than one'} partition labelled ${label} with type ${USR_TYPE_GUID}`,
        subject: disk,
        hint: `Partition the disk with exactly one ${label} of that type (sgdisk -c N:${label} -t N:${USR_TYPE_GUID})`,
      });
    }
    const e = matches[0]!;
    const verity = table.entries.filter((v) => v.name === verityLabel(name));
    if (verity.length > 1) {
      throw new AgentError({
        code: 'slots.ambiguous',
        message: `more than one partition labelled ${verityLabel(name)}`,
        subject: disk,
        hint: `Keep exactly one ${verityLabel(name)} partition (the hash tree of ${label})`,
      });
    }
    return {
      ...extent(e),
      name,
      attributes: decodeSlotAttributes(e.attributes),
      rawAttributes: e.attributes,
      ...(verity[0] && { verity: extent(verity[0]) }),
    };
  };
  return { A: find('A'), B: find('B') };
}

/** Read both slots of `disk` (an image file or a whole-disk block device). */
export async function readSlots(disk: string): Promise<SlotPair> {
  const fh = await open(disk, 'r');
  try {
    return slotsOf(await readGpt(fh, disk), disk);
  } finally {
    await fh.close();
  }
}

export type SlotChanges = Partial<Record<SlotName, Partial<SlotAttributes>>>;

/**
 * Apply attribute changes to one or both slots in a single table write and return the
 * slots as now on disk. `booted` (when known) may not be left unbootable.
 */
export async function updateSlotAttributes(disk: string, changes: SlotChanges, booted: SlotName | undefined): Promise<SlotPair> {
  const fh = await open(disk, 'r+');
  try {
    const table = await readGpt(fh, disk);
    const slots = slotsOf(table, disk);
    const writes: Array<{ index: number; attributes: bigint }> = [];
    for (const name of SLOT_NAMES) {
      const patch = changes[name];
      if (!patch) continue;
      const slot = slots[name];
      const next = { ...slot.attributes, ...patch };
      if (name === booted && !isBootable(next)) {
        throw new AgentError({
          code: 'slots.booted-slot',
          message: `refusing to make the booted slot ${slot.label} unbootable (priority ${next.priority}, tries ${next.tries}, successful ${next.successful ? 1 : 0})`,
          subject: disk,
          hint: 'Only the inactive slot may be marked unbootable; reboot into the other slot first',
        });
      }
      writes.push({ index: slot.index, attributes: encodeSlotAttributes(slot.rawAttributes, next) });
    }
    return slotsOf(await writeGptAttributes(fh, table, writes), disk);
  } finally {
    await fh.close();
  }
}

/**
 * Changes that make `target` the next boot: one try, not yet successful, a priority above
 * every other slot's (others are lowered when the target would pass 15).
 */
export function promoteChanges(slots: SlotPair, target: SlotName): SlotChanges {
  const other = otherSlot(target);
  const otherPriority = slots[other].attributes.priority;
  if (otherPriority >= MAX_PRIORITY) {
    return { [target]: { priority: MAX_PRIORITY, tries: 1, successful: false }, [other]: { priority: MAX_PRIORITY - 1 } };
  }
  return { [target]: { priority: otherPriority + 1, tries: 1, successful: false } };
}
