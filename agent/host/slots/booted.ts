/**
 * Which slot the running system booted from, read from the kernel command line
 * (`mount.usr=` wins over `usr=`; the last occurrence of a key wins, as for the kernel):
 * `PARTUUID=…`, `PARTLABEL=…`, `/dev/disk/by-partuuid/…` or `/dev/disk/by-partlabel/…`.
 */
import { readFile } from 'node:fs/promises';
import { AgentError } from '../../core/errors.js';
import { normalizeGuid } from './guid.js';
import { SLOT_NAMES, readSlots, type SlotName, type SlotPair } from './slots.js';

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

export interface BootedSlotOptions {
  /** The disk holding USR-A/USR-B. */
  disk: string;
  /** Where to read the kernel command line; default /proc/cmdline. */
  cmdlinePath?: string;
}

/** The booted slot, or an `slots.booted-unknown` error when the command line names neither. */
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
  return { booted, slots };
}
