/**
 * What this machine offers containers, read once at start: whether overlayfs takes
 * `metacopy=on`, and where memory and cpu limits must be enforced by the unit itself.
 *
 * A system manager applies MemoryMax= and CPUQuota= on cgroup v2 and, through the v1
 * controllers, on hybrid hosts. A user manager gets no v1 controllers at all, so on a
 * hybrid host (`/sys/fs/cgroup/memory` is a v1 hierarchy) the unit joins a v1 memory and
 * cpu cgroup of its own (see agent/core/containers/nspawn.ts). On pure v2, a user manager
 * applies them when the memory/cpu controllers are delegated to it. Those v1 cgroups are
 * machine-wide: each agent (each state directory) has a parent of its own, so two agents
 * on one machine (two demos, say) never share a container's cgroup.
 */
import { createHash } from 'node:crypto';
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BusKind } from '../../api/agent1.js';
import type { ContainerHost } from '../../core/containers/spec.js';

export interface HostFactsOptions {
  bus: BusKind;
  /** Default `/sys/fs/cgroup`. */
  cgroupRoot?: string;
  /** Name of the v1 parent cgroup for containers. Default `host-agent`. */
  cgroupParent?: string;
  /** Default `/sys/module/overlay/parameters`. */
  overlayParameters?: string;
  /** Default `/proc/filesystems`. */
  filesystems?: string;
}

export interface HostFacts {
  overlay: boolean;
  metacopy: boolean;
  legacyCgroups?: NonNullable<ContainerHost['legacyCgroups']>;
}

/** The v1 parent cgroup of an agent: `host-agent` for the default state directory, else one per state directory. */
export function cgroupParentFor(stateDir: string): string {
  if (stateDir === '/var/lib/host-agent') return 'host-agent';
  return `host-agent-${createHash('sha256').update(stateDir).digest('hex').slice(0, 12)}`;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false);
}

export async function readHostFacts(options: HostFactsOptions): Promise<HostFacts> {
  const root = options.cgroupRoot ?? '/sys/fs/cgroup';
  const parent = options.cgroupParent ?? 'host-agent';
  const filesystems = await readFile(options.filesystems ?? '/proc/filesystems', 'utf8').catch(() => '');
  const overlay = /\toverlay$/m.test(filesystems);
  const metacopy = await exists(join(options.overlayParameters ?? '/sys/module/overlay/parameters', 'metacopy'));
  if (options.bus === 'system') return { overlay, metacopy };
  const legacy: NonNullable<ContainerHost['legacyCgroups']> = {};
  if (await exists(join(root, 'memory/memory.limit_in_bytes'))) legacy.memory = join(root, 'memory', parent);
  if (await exists(join(root, 'cpu/cpu.cfs_quota_us'))) legacy.cpu = join(root, 'cpu', parent);
  return { overlay, metacopy, ...(Object.keys(legacy).length > 0 && { legacyCgroups: legacy }) };
}
