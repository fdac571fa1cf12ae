/**
 * What the reboot coordinator needs to know from the A/B disk, read the way the bootloader
 * reads it: whether a reboot is needed and whether the running slot has been marked good
 * (successful). Until the update service reports these, agentd can use this.
 *
 * A reboot is needed when the next boot would pick another slot than the one running and
 * either the running slot is good (an update is staged in the other one) or the agent wrote
 * the reboot-required flag (a rollback, a failed health check). A new boot not yet marked
 * good needs no reboot: its health check decides first (else the bootloader's fall-back
 * would look like a staged update the moment the try is spent).
 */
import { access } from 'node:fs/promises';
import { readBootedSlot, type BootedSlotOptions } from '../slots/booted.js';
import { isBootable } from '../slots/attributes.js';
import { SLOT_NAMES, type SlotName, type SlotPair } from '../slots/slots.js';

export interface SlotFacts {
  booted: SlotName;
  /** The slot the bootloader would pick next, if any. */
  nextBoot: SlotName | undefined;
  rebootNeeded: boolean;
  bootMarkedGood: boolean;
}

/** The bootloader's choice: highest priority among bootable slots, USR-A on a tie. */
export function nextBootSlot(slots: SlotPair): SlotName | undefined {
  let best: SlotName | undefined;
  for (const name of SLOT_NAMES) {
    const a = slots[name].attributes;
    if (isBootable(a) && (best === undefined || a.priority > slots[best].attributes.priority)) best = name;
  }
  return best;
}

export interface SlotFactsOptions extends BootedSlotOptions {
  /** The reboot-required flag file (default /run/reboot-required). */
  rebootRequiredPath?: string;
}

export async function readSlotFacts(options: SlotFactsOptions): Promise<SlotFacts> {
  const { booted, slots } = await readBootedSlot(options);
  const nextBoot = nextBootSlot(slots);
  const good = slots[booted].attributes.successful;
  const flagged = !good && await access(options.rebootRequiredPath ?? '/run/reboot-required').then(() => true, () => false);
  return {
    booted,
    nextBoot,
    rebootNeeded: nextBoot !== undefined && nextBoot !== booted && (good || flagged),
    bootMarkedGood: good,
  };
}
