/**
 * The capability set of a container's payload: podman's default set (containers/common
 * `DefaultCapabilities`, the 11 capabilities since containers/common#1240), changed by the
 * image's appc isolators — `os/linux/capabilities-retain-set` replaces it with the union of
 * the sets it names (which may hold more than the default), `os/linux/capabilities-remove-set`
 * takes capabilities out of it. The same set bounds both isolations (nspawn: options of
 * systemd-nspawn, fly: `CapabilityBoundingSet=`). Pure: no I/O.
 */
import type { Isolator } from '../appc/isolators.js';

/** Every Linux capability, by number (0 … 40, `CAP_LAST_CAP` of Linux 5.9 and later). */
export const ALL_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL',
  'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT',
  'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE',
  'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG',
  'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

/** podman's default set (containers.conf `default_capabilities`). */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_NET_BIND_SERVICE',
  'CAP_SETFCAP', 'CAP_SETGID', 'CAP_SETPCAP', 'CAP_SETUID', 'CAP_SYS_CHROOT',
];

export interface CapabilitySet {
  /** The payload's capabilities, in kernel order. */
  set: string[];
  warnings: string[];
}

const KNOWN = new Set(ALL_CAPABILITIES);

/** The capability names of a capabilities isolator, or why it cannot be applied. */
function namesOf(isolator: Isolator): string[] | string {
  const set = (isolator.value as { set?: unknown } | undefined)?.set;
  if (!Array.isArray(set) || set.length === 0) return 'its value has no set of capability names';
  const unknown = set.filter((s) => typeof s !== 'string' || !KNOWN.has(s));
  if (unknown.length > 0) return `not Linux capabilities: ${unknown.map((s) => JSON.stringify(s)).join(', ')} (names look like CAP_NET_ADMIN)`;
  return set as string[];
}

/** The payload's capability set for these isolators. */
export function capabilitySet(isolators: readonly Isolator[]): CapabilitySet {
  const warnings: string[] = [];
  let retain: Set<string> | undefined;
  const remove = new Set<string>();
  for (const iso of isolators) {
    if (iso.name !== 'os/linux/capabilities-retain-set' && iso.name !== 'os/linux/capabilities-remove-set') continue;
    const names = namesOf(iso);
    if (typeof names === 'string') {
      warnings.push(`isolator ${iso.name} of the image is not applied: ${names}`);
    } else if (iso.name === 'os/linux/capabilities-retain-set') {
      retain = new Set([...(retain ?? []), ...names]);
    } else {
      for (const n of names) remove.add(n);
    }
  }
  const base = retain ?? new Set(DEFAULT_CAPABILITIES);
  return { set: ALL_CAPABILITIES.filter((c) => base.has(c) && !remove.has(c)), warnings };
}

/**
 * systemd-nspawn options giving the payload exactly `set`. nspawn computes
 * `(its default | --capability= | NET_ADMIN with a private network) & ~--drop-capability=`,
 * so the set is added and every other capability dropped; `--drop-capability=all` would
 * win over any `--capability=`.
 */
export function nspawnCapabilityArgs(set: readonly string[]): string[] {
  const keep = new Set(set);
  const drop = ALL_CAPABILITIES.filter((c) => !keep.has(c));
  return [
    ...(set.length > 0 ? [`--capability=${set.join(',')}`] : []),
    ...(drop.length > 0 ? [`--drop-capability=${drop.join(',')}`] : []),
  ];
}
