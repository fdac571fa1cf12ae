/**
 * The real host's bootloader: run before each boot of the host (an ExecStartPre= of its
 * unit, see RealHost.boot's `beforeBoot`). Over the GPT disk image bound into the host it
 * does what the CoreOS/ChromeOS bootloader does (test/lib/boot-sim.ts, with cgpt): pick the
 * highest priority slot among those successful or with tries left, spend a try of a slot
 * not yet successful, and write the kernel command line naming it (`mount.usr=PARTUUID=…`),
 * the file agentd reads with `--boot-cmdline`. Appends the slot booted to a history file.
 * With ENTRIES-DIR (the agent's boot entries), the booted slot's entry goes on the command
 * line and its `verity.usrhash=` must match the slot (veritysetup verify), or the boot fails.
 *
 *   node --import tsx test/e2e/lib/bootloader.ts DISK CMDLINE-FILE HISTORY-FILE [ENTRIES-DIR]
 */
import { bootSim } from '../../lib/boot-sim.js';

const [disk, cmdlinePath, logPath, entriesDir, ...rest] = process.argv.slice(2);
if (!disk || !cmdlinePath || !logPath || rest.length > 0) {
  process.stderr.write('usage: bootloader.ts DISK CMDLINE-FILE HISTORY-FILE [ENTRIES-DIR]\n');
  process.exit(2);
}
const boot = await bootSim(disk, { cmdlinePath, logPath, ...(entriesDir && { entriesDir }) }).catch((e: unknown) => {
  process.stderr.write(`e2e bootloader: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
const usrhash = boot.cmdline.split(/\s+/).find((w) => w.startsWith('verity.usrhash='));
process.stdout.write(`e2e bootloader: booting USR-${boot.slot} (mount.usr=PARTUUID=${boot.partUuid}${usrhash ? ` ${usrhash}, verified` : ''})\n`);
