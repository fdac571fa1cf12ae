/**
 * A stand-in for one host's agent, run as a child process by the lock integration tests so it
 * can be killed with SIGKILL. Usage: `holder-child.ts hold|start <etcd endpoint> <machine id>`.
 * - hold: wait for a slot, print `held`, then idle until killed (a host about to reboot);
 * - start: what the agent does on start after a good boot: ask the strategy decision whether
 *   to release a slot it still holds, do it, and print the outcome as JSON.
 */
import { decideReboot } from '../../../agent/core/schedule/strategy.js';
import { UTC } from '../../../agent/core/schedule/timezone.js';
import { EtcdClient } from '../../../agent/host/lock/etcd-client.js';
import { EtcdSemaphoreLock } from '../../../agent/host/lock/etcd-lock.js';
import { waitForLock } from '../../../agent/host/lock/wait.js';

const [mode, endpoint, id] = process.argv.slice(2);
if ((mode !== 'hold' && mode !== 'start') || !endpoint || !id) {
  process.stderr.write('usage: holder-child.ts hold|start ENDPOINT ID\n');
  process.exit(2);
}
const lock = new EtcdSemaphoreLock({ client: new EtcdClient({ endpoints: [endpoint] }), id });

if (mode === 'hold') {
  await waitForLock(lock, { pollMs: 20 });
  process.stdout.write('held\n');
  setInterval(() => undefined, 60_000);
} else {
  const status = await lock.status();
  const action = decideReboot({
    strategy: 'etcd-lock',
    zone: UTC,
    now: new Date(),
    rebootNeeded: false,
    lockHeld: status.held === true,
    bootMarkedGood: true,
  });
  if (action.kind === 'release-lock') await lock.release();
  process.stdout.write(`${JSON.stringify({ heldOnStart: status.held, action })}\n`);
}
