/**
 * The booted slot's os-release, before each boot of the real host (an ExecStartPre= after
 * the bootloader, see RealHost.boot's `beforeBoot`). On CoreOS `/etc/os-release` links to
 * `/usr/lib/os-release` of the USR slot booted, and agentd reads its running version there.
 * The host's `/usr` here is the image's, not the slot's, so the scenario keeps, for each slot,
 * the os-release of the release it staged there (`RELEASES-DIR/<slot>`, A or B); this copies
 * the one of the slot the bootloader booted last (the last line of HISTORY-FILE) to OUT,
 * bound over the host's `/usr/lib/os-release`. A slot with none carries DEFAULT (the image's).
 *
 *   node --import tsx test/e2e/lib/usr-release.ts HISTORY-FILE RELEASES-DIR DEFAULT OUT
 */
import { copyFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';

const [history, releases, fallback, out, ...rest] = process.argv.slice(2);
if (!history || !releases || !fallback || !out || rest.length > 0) {
  process.stderr.write('usage: usr-release.ts HISTORY-FILE RELEASES-DIR DEFAULT OUT\n');
  process.exit(2);
}
const slot = (await readFile(history, 'utf8')).trim().split('\n').at(-1);
if (slot !== 'A' && slot !== 'B') {
  process.stderr.write(`e2e usr-release: no slot booted in ${history}\n`);
  process.exit(1);
}
const own = join(releases, slot);
const source = await copyFile(own, out).then(() => own, async (e: NodeJS.ErrnoException) => {
  if (e.code !== 'ENOENT') throw e;
  await copyFile(fallback, out);
  return fallback;
});
process.stdout.write(`e2e usr-release: USR-${slot} carries ${source}\n`);
