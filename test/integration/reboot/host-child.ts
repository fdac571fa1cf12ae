/**
 * One simulated host (sim-host.ts) as a child process, so a test can kill it with SIGKILL.
 * Usage: `host-child.ts install|boot SPEC` where SPEC is JSON
 * `{dir, disk, n, strategy, endpoint, group, window: [start, length]}`.
 * - install: set the host up (machine id, first boot), start its coordinator, print `ready`
 *   after the first pass; `stage` on stdin stages an update. At the reboot it boots the disk,
 *   prints `rebooted` and hangs, holding the slot, until killed.
 * - boot: the host after its reboot: start the coordinator (the slot is marked good after
 *   boot), print every status as one JSON line; SIGTERM stops it.
 */
import { createInterface } from 'node:readline';
import { parseWindow } from '../../../agent/core/schedule/window.js';
import type { RebootSettings } from '../../../agent/daemon/reboot-coordinator.js';
import { SimHost } from './sim-host.js';

const [mode, specText] = process.argv.slice(2);
if ((mode !== 'install' && mode !== 'boot') || !specText) {
  process.stderr.write('usage: host-child.ts install|boot SPEC\n');
  process.exit(2);
}
const spec = JSON.parse(specText) as {
  dir: string; disk: string; n: number; strategy: 'etcd-lock' | 'fleetlock'; endpoint: string; group: string; window: [string, string];
};
const parsed = parseWindow(spec.window[0], spec.window[1]);
if (!parsed.ok) throw new Error(parsed.problem);
const settings: RebootSettings = {
  strategy: spec.strategy,
  window: { start: spec.window[0], length: spec.window[1], window: parsed.value },
  lock: { endpoint: spec.endpoint, group: spec.group },
};
const print = (line: string): void => void process.stdout.write(`${line}\n`);

const host = new SimHost({
  dir: spec.dir, disk: spec.disk, n: spec.n, settings,
  ...(mode === 'install'
    ? { hangOnReboot: () => print('rebooted') }
    : { onStatus: (s) => print(JSON.stringify(s)) }),
});

if (mode === 'install') {
  await host.install();
  host.start();
  await host.waitFor((s) => s.action === 'idle' && s.lock !== undefined, 10_000, 'first pass');
  print('ready');
  createInterface({ input: process.stdin }).on('line', (l) => {
    if (l.trim() === 'stage') void host.stage();
  });
} else {
  host.start();
  process.once('SIGTERM', () => void host.stop().then(() => process.exit(0)));
}
