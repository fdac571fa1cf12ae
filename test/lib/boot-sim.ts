/**
 * A bootloader simulator over a disk image, using cgpt (not our GPT code) the way the
 * ChromeOS/CoreOS bootloader does: pick the slot with the highest priority among those with
 * `successful || tries > 0` (USR-A wins a tie), spend a try when it is not yet successful,
 * and hand the kernel a command line naming the slot. Tests "reboot" the host with it.
 */
import { execFile } from 'node:child_process';
import { appendFile, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
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
  const cmdline = `BOOT_IMAGE=/vmlinuz root=LABEL=ROOT mount.usr=PARTUUID=${partUuid} rootflags=rw console=ttyS0\n`;
  if (options.cmdlinePath) await writeFile(options.cmdlinePath, cmdline);
  if (options.logPath) await appendFile(options.logPath, `${best.slot}\n`);
  return { slot: best.slot, partUuid, cmdline };
}
