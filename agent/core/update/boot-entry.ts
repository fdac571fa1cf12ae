/**
 * The boot entry the agent writes for a slot it staged (`<bootEntriesDir>/USR-X.conf`): a
 * Boot Loader Specification style file whose `options` line is the slot's part of the kernel
 * command line. The bootloader adds it to the command line when it boots that slot:
 * `mount.usr=PARTUUID=<slot>` and, for a dm-verity image, `verity.usrhash=<signed root hash>`
 * with the layout (./verity.ts `verityCmdline`). Pure: render and read.
 */
import { verityCmdline, type Verity } from './verity.js';

export interface BootEntry {
  /** `USR-A` or `USR-B`. */
  label: string;
  version: string;
  partUuid: string;
  verity?: { verity: Verity; hashPartUuid: string };
}

/** The command line words of `entry`. */
export function bootEntryOptions(entry: BootEntry): string[] {
  return [
    `mount.usr=PARTUUID=${entry.partUuid}`,
    ...(entry.verity ? verityCmdline(entry.verity.verity, entry.partUuid, entry.verity.hashPartUuid) : []),
  ];
}

export function renderBootEntry(entry: BootEntry): string {
  return [
    `# Written by host-agent when it staged ${entry.label}; the bootloader adds "options" to the kernel command line`,
    `title host-agent ${entry.label} ${entry.version}`,
    `version ${entry.version}`,
    `options ${bootEntryOptions(entry).join(' ')}`,
    '',
  ].join('\n');
}

/** The `options` words of a boot entry's text (the last `options` line wins); empty when none. */
export function readBootEntryOptions(text: string): string[] {
  let options: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^options\s+(.*)$/.exec(line.trim());
    if (m) options = m[1]!.trim().split(/\s+/);
  }
  return options;
}
