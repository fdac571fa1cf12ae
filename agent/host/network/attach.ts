/**
 * Setting up and tearing down one container's network, as the container's unit runs it
 * (`agentd-net up` before nspawn, `agentd-net down` after the container ended, on every
 * path: stop, crash, kill of nspawn, a failed start). `up` first reclaims what a previous
 * run left (cached CNI result, namespace file: a crash of the host or of the helper), then
 * creates the namespace, runs the network's plugins and writes the container's
 * resolv.conf and hosts. `down` is idempotent: what is missing is skipped.
 */
import { access, readFile, rm } from 'node:fs/promises';
import { resultAddresses } from '../../core/network/conflist.js';
import { containerFilesPrefix, containerHosts, containerResolvConf, parseResolvConf } from '../../core/network/names.js';
import type { NetworkAttachment } from '../../core/network/types.js';
import { writeFileAtomic } from '../fs/atomic.js';
import { CniRunner } from './cni.js';
import { createNetns, removeNetns } from './netns.js';

export interface AttachOptions {
  /** The host's resolver configuration. */
  resolvConf: string;
}

function runnerFor(a: NetworkAttachment): CniRunner {
  return new CniRunner({ cniPath: a.cniPath, runDir: a.runDir });
}

function keyOf(a: NetworkAttachment, netns: string): { container: string; ifname: string; netns: string } {
  return { container: a.container, ifname: a.ifname, netns };
}

export async function networkUp(a: NetworkAttachment, opts: AttachOptions = { resolvConf: '/etc/resolv.conf' }): Promise<void> {
  const runner = runnerFor(a);
  const leftover = await runner.cached(a.conflist.name, a) !== undefined || await access(a.netns).then(() => true, () => false);
  if (leftover) await networkDown(a);
  try {
    await createNetns(a.netns);
    const result = await runner.add(a.conflist, keyOf(a, a.netns), a.ports);
    const addresses = resultAddresses(result);
    const files = containerFilesPrefix(a.runDir, a.container);
    const host = parseResolvConf(await readFile(opts.resolvConf, 'utf8').catch(() => ''));
    await writeFileAtomic(`${files}.resolv.conf`, containerResolvConf(host, a.dns), { mkdirs: true });
    await writeFileAtomic(`${files}.hosts`, containerHosts(a.container, addresses));
  } catch (e) {
    await networkDown(a).catch(() => undefined);
    throw e;
  }
}

/** DEL (from the cache), then the namespace and the container's files. Throws the first failure after trying everything. */
export async function networkDown(a: NetworkAttachment): Promise<void> {
  const netnsExists = await access(a.netns).then(() => true, () => false);
  let first: unknown;
  await runnerFor(a).del(a.conflist.name, keyOf(a, netnsExists ? a.netns : ''), a.conflist).catch((e: unknown) => { first = e; });
  await removeNetns(a.netns).catch((e: unknown) => { first ??= e; });
  const files = containerFilesPrefix(a.runDir, a.container);
  await rm(`${files}.resolv.conf`, { force: true });
  await rm(`${files}.hosts`, { force: true });
  if (first !== undefined) throw first;
}
