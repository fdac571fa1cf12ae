/**
 * The command line of an nspawn container (stage1 `nspawn`, the default).
 *
 * ExecStart runs, in order: `unshare` (a private mount namespace, so the overlay below
 * lives and dies with the container and nothing is left mounted after it), `/bin/sh` with
 * a fixed script that joins the cgroup v1 directories the host asked for (limits a user
 * manager cannot apply), mounts the overlay (the image's shared layers under the
 * container's own writable layer) on `merged`, and execs systemd-nspawn on it. Every
 * value reaches the script as a positional argument, never as script text. The process
 * keeps one PID from unshare to nspawn, so nspawn is the unit's main process and can
 * report READY to systemd (Type=notify). Pure: no I/O.
 */
import type { Limits } from './limits.js';
import { networkEnter, networkUnshare, networkUp, nspawnNetworkArgs } from './network.js';
import type { ContainerHost, ResolvedContainer } from './spec.js';

/** Joins the cgroup v1 directories given as `DIR FILE VALUE` triplets up to `--`, mounts
 *  the overlay (`OPTIONS TARGET`), then execs the rest. */
export const LAUNCH_SCRIPT =
  'set -e; while [ "$1" != -- ]; do mkdir -p "$1"; echo "$3" > "$1/$2"; echo $$ > "$1/cgroup.procs"; shift 3; done; ' +
  'shift; mount -t overlay overlay -o "$1" "$2"; shift 2; exec "$@"';

const ROOT = new Set(['0', 'root']);

/**
 * `lowerdir=…,upperdir=…,workdir=…[,metacopy=on]` for the container's overlay. overlayfs
 * takes the lower layers top first, so the image's layers (bottom first) are reversed.
 */
export function overlayOptions(host: ContainerHost): string {
  const lower = [...host.imageLayers].reverse().join(':');
  const opts = `lowerdir=${lower},upperdir=${host.layer.upper},workdir=${host.layer.work}`;
  return host.metacopy ? `${opts},metacopy=on` : opts;
}

/** cgroup v1 directories of the container: `[dir, file, value]`. */
export function legacyCgroupWrites(c: ResolvedContainer, host: ContainerHost, limits: Limits): Array<[string, string, string]> {
  const writes: Array<[string, string, string]> = [];
  const legacy = host.legacyCgroups;
  if (legacy?.memory && limits.memoryBytes !== undefined) {
    writes.push([`${legacy.memory}/container-${c.name}`, 'memory.limit_in_bytes', String(limits.memoryBytes)]);
  }
  if (legacy?.cpu && limits.cpuPercent !== undefined) {
    // The default period is 100 ms, so a quota of 1000 µs is 1 % of one CPU.
    writes.push([`${legacy.cpu}/container-${c.name}`, 'cpu.cfs_quota_us', String(limits.cpuPercent * 1000)]);
  }
  return writes;
}

function nspawnArgs(c: ResolvedContainer, host: ContainerHost, limits: Limits): string[] {
  const args = [
    'systemd-nspawn',
    '--quiet',
    '--keep-unit',
    '--register=no',
    `--directory=${host.layer.merged}`,
    `--machine=${c.name}`,
    '--console=pipe',
    '--link-journal=no',
    // Without a handler, the stub init (pid 1) cannot receive a signal from outside its
    // namespace; the payload gets systemd's SIGTERM directly (KillMode=control-group).
    '--kill-signal=SIGTERM',
  ];
  if (c.privateUsers !== undefined) {
    // The tree nspawn chowns is the overlay: the image's files get a metadata-only copy in
    // the container's layer; the shared image tree is never changed.
    args.push(`--private-users=${c.privateUsers}`, '--private-users-ownership=chown');
  }
  if (!ROOT.has(c.user)) args.push(`--user=${c.user}`);
  if (c.workingDirectory !== undefined) args.push(`--chdir=${c.workingDirectory}`);
  for (const [name, value] of c.environment) args.push(`--setenv=${name}=${value}`);
  const idmap = c.privateUsers !== undefined ? ':idmap' : '';
  for (const v of c.volumes) args.push(`${v.readOnly ? '--bind-ro' : '--bind'}=${v.host}:${v.path}${idmap}`);
  args.push(...nspawnNetworkArgs(c, host, idmap));
  args.push(...limits.nspawnArgs, '--as-pid2', '--', ...c.exec);
  return args;
}

/**
 * The launch script of a container on the built-in network: `net_up PARENT FILES` first
 * (the namespace is ExecStart's own: `unshare --net=FILE`), then the usual launch.
 */
function launchWithNetwork(up: string): string {
  return `${up}\n${LAUNCH_SCRIPT.replace('set -e; ', 'set -e; net_up "$1" "$2"; shift 2; ')}`;
}

/** The whole ExecStart= argv of an nspawn container. */
export function nspawnCommand(c: ResolvedContainer, host: ContainerHost, limits: Limits): string[] {
  const cgroups = legacyCgroupWrites(c, host, limits).flat();
  const up = networkUp(c, host);
  return [
    'unshare', '--mount', '--propagation', 'private', ...networkUnshare(c, host), '--',
    '/bin/sh', '-c', up ? launchWithNetwork(up.script) : LAUNCH_SCRIPT, `container-${c.name}`, ...(up?.args ?? []), ...cgroups, '--',
    overlayOptions(host), host.layer.merged,
    ...networkEnter(c, host),
    ...nspawnArgs(c, host, limits),
  ];
}
