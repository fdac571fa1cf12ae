/**
 * Writes the boot entry of a staged slot (agent/core/update/boot-entry.ts) atomically into
 * the boot entries directory, before the slot is made bootable: the bootloader never sees
 * a promoted slot with an older entry.
 */
import { join } from 'node:path';
import { renderBootEntry, type BootEntry } from '../../core/update/boot-entry.js';
import { writeFileAtomic } from '../fs/atomic.js';

/** `<dir>/USR-X.conf`. */
export function bootEntryPath(dir: string, label: string): string {
  return join(dir, `${label}.conf`);
}

export async function writeBootEntry(dir: string, entry: BootEntry): Promise<void> {
  await writeFileAtomic(bootEntryPath(dir, entry.label), renderBootEntry(entry), { mkdirs: true, mode: 0o644 });
}
