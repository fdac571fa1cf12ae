/**
 * Which slot the running system booted from, read from the kernel command line
 * (`mount.usr=` wins over `usr=`; the last occurrence of a key wins, as for the kernel):
 * `PARTUUID=…`, `PARTLABEL=…`, `/dev/disk/by-partuuid/…` or `/dev/disk/by-partlabel/…`,
 * and checked against the GPT: the slot named must be one the bootloader could have
 * booted. Every write to the slots starts here, so when the two disagree nothing is
 * written (`slots.booted-disagrees`).
 */
import { readFile } from 'node:fs/promises';
import { AgentError } from '../../core/errors.js';
import { normalizeGuid } from './guid.js';
import { SLOT_NAMES, otherSlot, readSlots, slotLabel, type SlotName, type SlotPair } from './slots.js';

export const DEFAULT_CMDLINE_PATH = '/proc/cmdline';

/** The usr= device named on `cmdline`, as written; undefined when none. */
export function usrDeviceOf(cmdline: string): string | undefined {
  let mountUsr: string | undefined;
  let usr: string | undefined;
  for (const word of cmdline.trim().split(/\s+/)) {
    if (word.startsWith('mount.usr=')) mountUsr = word.slice('mount.usr='.length);
    else if (word.startsWith('usr=')) usr = word.slice('usr='.length);
  }
  return mountUsr ?? usr;
}

function unquote(text: string): string {
  return text.length >= 2 && text.startsWith('"') && text.endsWith('"') ? text.slice(1, -1) : text;
}

/** The slot that `cmdline` names among `slots`, or undefined when it names neither. */
export function bootedSlotFromCmdline(cmdline: string, slots: SlotPair): SlotName | undefined {
  const device = usrDeviceOf(cmdline);
  if (device === undefined) return undefined;
  const value = unquote(device);
  const byUuid = /^(?:PARTUUID=|\/dev\/disk\/by-partuuid\/)(.+)$/i.exec(value);
  if (byUuid) {
    const uuid = normalizeGuid(byUuid[1]!);
    return SLOT_NAMES.find((n) => slots[n].partUuid === uuid);
  }
  const byLabel = /^(?:PARTLABEL=|\/dev\/disk\/by-partlabel\/)(.+)$/.exec(value);
  if (byLabel) return SLOT_NAMES.find((n) => slots[n].label === byLabel[1]);
  return undefined;
}

/**
 * Why the bootloader cannot have booted `name`, or undefined when it could have. It boots
 * the highest priority among slots with `successful || tries > 0`, spending a try on a
 * slot not yet successful. So the booted slot has a priority above 0, and unless it is
 * successful or still has tries, it spent its last try on this boot: then no other slot
 * that can boot may rank above it.
 */
export function bootedSlotProblem(name: SlotName, slots: SlotPair): string | undefined {
  const slot = slots[name].attributes;
  const other = slots[otherSlot(name)];
  const o = other.attributes;
  if (slot.priority === 0) {
    return `${slotLabel(name)} has priority 0, which the bootloader never boots${o.successful ? `; ${other.label} is the slot that booted successfully` : ''}`;
  }
  if (slot.successful || slot.tries > 0) return undefined;
  if ((o.successful || o.tries > 0) && o.priority > slot.priority) {
    return `${slotLabel(name)} never booted successfully and has no tries left (priority ${slot.priority}), while ${other.label} (priority ${o.priority}, ${o.successful ? 'successful' : `tries ${o.tries}`}) ranks above it: the bootloader would have booted ${other.label}`;
  }
  return undefined;
}

export interface BootedSlotOptions {
  /** The disk holding USR-A/USR-B. */
  disk: string;
  /** Where to read the kernel command line; default /proc/cmdline. */
  cmdlinePath?: string;
}

/**
 * The booted slot; `slots.booted-unknown` when the command line names neither slot,
 * `slots.booted-disagrees` when it names one the GPT says cannot have booted.
 */
export async function readBootedSlot(options: BootedSlotOptions): Promise<{ booted: SlotName; slots: SlotPair }> {
  const cmdlinePath = options.cmdlinePath ?? DEFAULT_CMDLINE_PATH;
  const [cmdline, slots] = await Promise.all([readFile(cmdlinePath, 'utf8'), readSlots(options.disk)]);
  const booted = bootedSlotFromCmdline(cmdline, slots);
  if (booted === undefined) {
    throw new AgentError({
      code: 'slots.booted-unknown',
      message: `the kernel command line names neither USR-A nor USR-B (usr device: ${usrDeviceOf(cmdline) ?? 'none'})`,
      subject: cmdlinePath,
      hint: 'Boot with mount.usr=PARTUUID=<uuid of USR-A or USR-B> (or PARTLABEL=USR-A), or point cmdlinePath at the right file',
    });
  }
  const problem = bootedSlotProblem(booted, slots);
  if (problem !== undefined) {
    throw new AgentError({
      code: 'slots.booted-disagrees',
      message: `the kernel command line names ${slotLabel(booted)} (usr device ${usrDeviceOf(cmdline)}), but the GPT of ${options.disk} disagrees: ${problem}. Nothing is written to either slot while it is unclear which one runs`,
      subject: cmdlinePath,
      hint: `Check that the bootloader's command line names the slot it boots (mount.usr=PARTUUID=<uuid>) and that nobody changed the GPT attributes by hand (cgpt show ${options.disk}); after fixing either, restart agentd`,
    });
  }
  return { booted, slots };
}
