/**
 * A container's network namespace as a file: `unshare --net=FILE` bind-mounts a new
 * namespace on it (as `ip netns add` does under /run/netns), so it outlives every process
 * and the CNI plugins and nspawn (`--network-namespace-path=`) can open it by path.
 * Removing it unmounts and deletes the file; the kernel frees the namespace, and the
 * veth ends in it, once the container's processes are gone too.
 */
import { mkdir, open, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { AgentError } from '../../core/errors.js';
import { execProgram } from './exec.js';

const TIMEOUT_MS = 10_000;

async function run(program: string, args: string[], what: string): Promise<void> {
  const out = await execProgram(program, args, { timeoutMs: TIMEOUT_MS });
  if (out.code !== 0) {
    throw new AgentError({ code: 'container.netns-failed', message: `${what}: ${out.stderr.trim() || `exit status ${out.code}`}`, hint: 'Run the container as root on a kernel with network namespaces' });
  }
}

/**
 * Creates the namespace file and, in the new namespace, brings its loopback up. Also lets
 * the container's root bind ports below 1024: the namespace belongs to the host's user
 * namespace, where the container's root has no CAP_NET_BIND_SERVICE. One chain of
 * processes (unshare bind-mounts the namespace on the file, then execs the shell in it,
 * which execs ip): a container start waits for it.
 */
export async function createNetns(path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o755 });
  await (await open(path, 'wx', 0o444)).close();
  await run('unshare', [`--net=${path}`, '--', '/bin/sh', '-c', 'echo 0 > /proc/sys/net/ipv4/ip_unprivileged_port_start && exec ip link set lo up'],
    `cannot create network namespace ${path} with its loopback up`);
}

/** Unmounts and removes the namespace file; missing or unmounted is fine. */
export async function removeNetns(path: string): Promise<void> {
  // Lazily: a unit joining the namespace by its path may hold it open at this moment.
  await execProgram('umount', ['-l', path], { timeoutMs: TIMEOUT_MS });
  await rm(path, { force: true });
}
