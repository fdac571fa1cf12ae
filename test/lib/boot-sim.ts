/**
 * A bootloader simulator over a disk image, using cgpt (not our GPT code) the way the
 * ChromeOS/CoreOS bootloader does: pick the slot with the highest priority among those with
 * `successful || tries > 0` (USR-A wins a tie), spend a try when it is not yet successful,
 * and hand the kernel a command line naming the slot. Tests "reboot" the host with it.
 * With `entriesDir`, the slot's boot entry written by the agent (`USR-X.conf`, its `options`)
 * goes on the command line, and a `verity.usrhash=` there is checked the way an initrd's
 * dm-verity setup would: `veritysetup verify` of the slot (and its hash partition) with the
 * entry's `systemd.verity_usr_options`, through veritysetup's own reading of a superblock,
 * not the agent's code. A slot that does not verify fails to boot (its try is spent).
 */
import { execFile } from 'node:child_process';
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { readBootEntryOptions } from '../../agent/core/update/boot-entry.js';
import { SLOT_INDEX, cgptAttributes, type TestSlot } from './disk.js';

const run = promisify(execFile);

export interface Boot {
  slot: TestSlot;
  partUuid: string;
  /** The kernel command line the bootloader would pass. */
  cmdline: string;
}

export interface BootSimOptions {
  /** Write the command line here (the agent's cmdlinePath). */
  cmdlinePath?: string;
  /** Append the booted slot name, one per line, to keep a boot history. */
  logPath?: string;
  /** The agent's boot entries (its `bootEntriesDir`): `USR-X.conf` adds its options. */
  entriesDir?: string;
}

/** Start (bytes) and size (bytes) of the partition whose PARTUUID is `uuid`, as cgpt reads the table. */
async function partitionByUuid(disk: string, uuid: string): Promise<{ offset: number; size: number }> {
  const { stdout } = await run('cgpt', ['show', '-q', disk]);
  for (const line of stdout.trim().split('\n')) {
    const [start, size, index] = line.trim().split(/\s+/).map(Number) as [number, number, number];
    const u = (await run('cgpt', ['show', '-i', String(index), '-u', disk])).stdout.trim().toLowerCase();
    if (u === uuid.toLowerCase()) return { offset: start * 512, size: size * 512 };
  }
  throw new Error(`bootSim: no partition with PARTUUID ${uuid} on ${disk}`);
}

/** `veritysetup verify` of the slot named by `words` (systemd.verity_usr_*), as an initrd would set it up. */
async function checkVerity(disk: string, words: string[], label: string): Promise<void> {
  const value = (key: string): string => {
    const word = [...words].reverse().find((w) => w.startsWith(`${key}=`));
    if (word === undefined) throw new Error(`bootSim: ${label}'s boot entry has verity.usrhash but no ${key}=`);
    return word.slice(key.length + 1);
  };
  const rootHash = value('verity.usrhash');
  const options = value('systemd.verity_usr_options').split(',').map((o) => o.split('=') as [string, string]);
  const flags = options.flatMap(([k, v]) => (k === 'superblock' ? (v === 'false' ? ['--no-superblock'] : []) : [`--${k}=${v}`]));
  const loops: string[] = [];
  const attach = async (uuid: string): Promise<string> => {
    const part = await partitionByUuid(disk, uuid.replace(/^PARTUUID=/, ''));
    const { stdout } = await run('losetup', ['--find', '--show', '--read-only', '--offset', String(part.offset), '--sizelimit', String(part.size), disk]);
    loops.push(stdout.trim());
    return stdout.trim();
  };
  try {
    const data = await attach(value('systemd.verity_usr_data'));
    const hashUuid = value('systemd.verity_usr_hash');
    const hash = hashUuid === value('systemd.verity_usr_data') ? data : await attach(hashUuid);
    await run('veritysetup', ['verify', data, hash, rootHash, ...flags]).catch((e: { stderr?: string }) => {
      throw new Error(`bootSim: ${label} does not verify against verity.usrhash=${rootHash}: ${e.stderr?.trim()}`);
    });
  } finally {
    for (const loop of loops) await run('losetup', ['--detach', loop]);
  }
}

/** Boot `disk` once; throws when no slot is bootable. */
export async function bootSim(disk: string, options: BootSimOptions = {}): Promise<Boot> {
  let best: { slot: TestSlot; priority: number; tries: number; successful: boolean } | undefined;
  for (const slot of ['A', 'B'] as const) {
    const a = await cgptAttributes(disk, slot);
    if (a.priority === 0 || (!a.successful && a.tries === 0)) continue;
    if (!best || a.priority > best.priority) best = { slot, ...a };
  }
  if (!best) throw new Error(`bootSim: no bootable slot on ${disk}`);
  const index = String(SLOT_INDEX[best.slot]);
  if (!best.successful) {
    // A kill between the agent's two GPT writes can leave one copy stale; like a real
    // bootloader, boot from the valid copy (cgpt show uses it) and write both back.
    const spend = (): Promise<unknown> => run('cgpt', ['add', '-i', index, '-T', String(best!.tries - 1), disk]);
    await spend().catch(async (e: { stderr?: string }) => {
      if (!/cgpt repair/.test(e.stderr ?? '')) throw e;
      await run('cgpt', ['repair', disk]);
      await spend();
    });
  }
  const { stdout } = await run('cgpt', ['show', '-i', index, '-u', disk]);
  const partUuid = stdout.trim().toLowerCase();
  const label = `USR-${best.slot}`;
  const entry = options.entriesDir ? await readFile(join(options.entriesDir, `${label}.conf`), 'utf8').catch(() => undefined) : undefined;
  const words = entry === undefined ? [`mount.usr=PARTUUID=${partUuid}`] : readBootEntryOptions(entry);
  if (!words.includes(`mount.usr=PARTUUID=${partUuid}`)) throw new Error(`bootSim: the boot entry of ${label} names another partition: ${words.join(' ')}`);
  if (words.some((w) => w.startsWith('verity.usrhash='))) await checkVerity(disk, words, label);
  const cmdline = `BOOT_IMAGE=/vmlinuz root=LABEL=ROOT ${words.join(' ')} rootflags=rw console=ttyS0\n`;
  if (options.cmdlinePath) await writeFile(options.cmdlinePath, cmdline);
  if (options.logPath) await appendFile(options.logPath, `${best.slot}\n`);
  return { slot: best.slot, partUuid, cmdline };
}
