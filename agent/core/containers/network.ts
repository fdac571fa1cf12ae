/**
 * A container's network in its unit. `host`: nothing (nspawn shares the host's network).
 * `none`: `--private-network` (loopback only). The built-in `default` network (macvlan,
 * ../network/macvlan.ts): the host side's `prepare` script (address, forwards, files, the
 * namespace file) heads ExecStart and execs the rest, ExecStart's `unshare` makes the
 * namespace on that file and its launch script creates `eth0` in it before execing nspawn
 * (a pod, with no nspawn, runs both as ExecStartPre), and `ExecStopPost=` runs `down`. A CNI network: `ExecStartPre=` runs the network helper's
 * `up` (a namespace file, the network's plugins, resolv.conf and hosts), nspawn is started
 * in that namespace (`nsenter --net=FILE`: with a user namespace, nspawn's
 * `--network-namespace-path=` fails with EPERM, since its child joins after entering the
 * new user namespace, which does not own the network namespace), and `ExecStopPost=` runs
 * `down`. Either way the container's resolv.conf and hosts are bound read-only over /etc,
 * and systemd runs ExecStopPost after every end of the unit (stop, crash, kill of nspawn,
 * failed start) whether agentd runs or not.
 * Pure: no I/O.
 */
import { CONTAINER_IFNAME } from '../network/conflist.js';
import { MACVLAN_UP_FUNCTION, macvlanCommands, macvlanUpArgs, type MacvlanAttachment } from '../network/macvlan.js';
import { containerFilesPrefix } from '../network/names.js';
import type { ContainerNetwork, NetworkAttachment } from '../network/types.js';
import { commandLine } from './quote.js';
import type { ContainerHost, ResolvedContainer } from './spec.js';

/** Where the host keeps container networks, and how to run the helper. */
export interface NetworkHost {
  /** The helper's argv before `up|down JSON`, e.g. `[/usr/bin/node, /usr/lib/host-agent/dist/agent/net-helper.js]`. */
  helper: string[];
  /** CNI results, IPAM leases, each container's resolv.conf and hosts: `/run/host-agent/network`. */
  runDir: string;
  /** Namespace files: `/run/host-agent/netns`. */
  netnsDir: string;
  /** CNI_PATH: `/usr/lib/cni`. */
  cniPath: string[];
}

export function networkOf(c: { network?: ContainerNetwork }): ContainerNetwork {
  return c.network ?? { mode: 'host' };
}

/** The helper's argument for a container on a CNI network; undefined for host and none. */
export function attachmentOf(c: ResolvedContainer, host: ContainerHost): NetworkAttachment | undefined {
  const net = c.network;
  if (net.mode !== 'cni' || host.network === undefined) return undefined;
  return {
    container: c.name,
    conflist: net.conflist,
    ports: c.ports.map((p) => ({ hostPort: p.host, containerPort: p.container, protocol: p.protocol })),
    dns: net.dns,
    netns: netnsFile(host, c.name),
    runDir: host.network.runDir,
    cniPath: host.network.cniPath,
    ifname: CONTAINER_IFNAME,
  };
}

/** What the unit's scripts take for a container on the built-in (macvlan) network; undefined otherwise. */
function macvlanAttachmentOf(c: ResolvedContainer, host: ContainerHost): MacvlanAttachment | undefined {
  const net = c.network;
  if (net.mode !== 'macvlan' || host.network === undefined) return undefined;
  return {
    container: c.name,
    network: net.network,
    netns: netnsFile(host, c.name),
    runDir: host.network.runDir,
    dns: net.dns,
    ports: c.ports.map((p) => ({ hostPort: p.host, containerPort: p.container, protocol: p.protocol })),
  };
}

function netnsFile(host: ContainerHost, name: string): string {
  return `${host.network!.netnsDir}/${name}`;
}

/** The container's namespace file, when it has a network of its own (default or CNI). */
export function netnsOf(c: ResolvedContainer, host: ContainerHost): string | undefined {
  return (c.network.mode === 'cni' || c.network.mode === 'macvlan') && host.network !== undefined ? netnsFile(host, c.name) : undefined;
}

/** The container's resolv.conf and hosts (`<run>/containers/<name>.resolv.conf`, `.hosts`), when it has a network of its own. */
export function networkFiles(c: ResolvedContainer, host: ContainerHost): { resolvConf: string; hosts: string } | undefined {
  if (netnsOf(c, host) === undefined) return undefined;
  const prefix = containerFilesPrefix(host.network!.runDir, c.name);
  return { resolvConf: `${prefix}.resolv.conf`, hosts: `${prefix}.hosts` };
}

/** nspawn's network options. `idmap`: the suffix of bind mounts in a user namespace. */
export function nspawnNetworkArgs(c: ResolvedContainer, host: ContainerHost, idmap: string): string[] {
  const files = networkFiles(c, host);
  if (files !== undefined) {
    return [
      '--resolv-conf=off',
      `--bind-ro=${files.resolvConf}:/etc/resolv.conf${idmap}`,
      `--bind-ro=${files.hosts}:/etc/hosts${idmap}`,
    ];
  }
  return c.network.mode === 'none' ? ['--private-network'] : [];
}

/** What runs nspawn in a CNI network's namespace: `nsenter --net=FILE --`, or nothing. */
export function networkEnter(c: ResolvedContainer, host: ContainerHost): string[] {
  const a = attachmentOf(c, host);
  return a === undefined ? [] : ['nsenter', `--net=${a.netns}`, '--'];
}

/** `unshare`'s option making the built-in network's namespace on its file (ExecStart, or the pod's up), or nothing. */
export function networkUnshare(c: ResolvedContainer, host: ContainerHost): string[] {
  const a = macvlanAttachmentOf(c, host);
  return a === undefined ? [] : [`--net=${a.netns}`];
}

/** The built-in network's `net_up` (shell function text) and its arguments, run inside the new namespace. */
export function networkUp(c: ResolvedContainer, host: ContainerHost): { script: string; args: string[] } | undefined {
  const a = macvlanAttachmentOf(c, host);
  return a === undefined ? undefined : { script: MACVLAN_UP_FUNCTION, args: macvlanUpArgs(a) };
}

export interface NetworkCommands {
  /** ExecStartPre argv; for the built-in network it also runs a command given after it (see startCommand). */
  pre: string[];
  /** ExecStopPost argv. */
  post: string[];
  /** The node network helper runs them (a CNI network): its unit drops the node environment (helperEnvironment). */
  helper: boolean;
}

/** The unit's network commands before the start and after the end, or undefined. */
export function networkCommands(c: ResolvedContainer, host: ContainerHost): NetworkCommands | undefined {
  const m = macvlanAttachmentOf(c, host);
  if (m !== undefined) {
    const [pre, post] = macvlanCommands(m);
    return { pre, post, helper: false };
  }
  const a = attachmentOf(c, host);
  if (a === undefined || host.network === undefined) return undefined;
  const json = JSON.stringify(a);
  return { pre: [...host.network.helper, 'up', json], post: [...host.network.helper, 'down', json], helper: true };
}

/**
 * The lines before a start: the helper's environment and `ExecStartPre=` (CNI), or the
 * built-in network's `prepare` as `ExecStartPre=` unless `chained`, i.e. it heads ExecStart
 * (see startCommand: one process less for systemd to start before the container; a pod's
 * ExecStart cannot carry it).
 */
export function networkStart(net: NetworkCommands | undefined, chained: boolean): Array<[string, string]> {
  const pre = startPre(net, chained);
  if (pre === undefined) return [];
  return [...(net!.helper ? [helperEnvironment()] : []), ['ExecStartPre', commandLine(pre)]];
}

/** The ExecStartPre argv of networkStart, for a unit made over D-Bus (which has no environment lines to drop). */
export function startPre(net: NetworkCommands | undefined, chained: boolean): string[] | undefined {
  return net === undefined || (chained && !net.helper) ? undefined : net.pre;
}

/** ExecStart's argv: `start`, behind the built-in network's `prepare` (which execs it) when there is one. */
export function startCommand(net: NetworkCommands | undefined, start: string[]): string[] {
  return net !== undefined && !net.helper ? [...net.pre, ...start] : start;
}

/**
 * What the manager's environment may hold that the network helper must not inherit: a CA
 * bundle node parses at every start (40 ms of each container start for a helper that
 * never speaks TLS) and node options the helper's command line does not give. nspawn
 * passes none of its environment to the payload, so a unit running the helper drops them.
 */
function helperEnvironment(): [string, string] {
  return ['UnsetEnvironment', 'NODE_EXTRA_CA_CERTS NODE_OPTIONS'];
}
