/**
 * A container's network in its unit. `host`: nothing (nspawn shares the host's network).
 * `none`: `--private-network` (loopback only). A CNI network: `ExecStartPre=` runs the
 * network helper's `up` (a namespace file, the network's plugins, resolv.conf and hosts),
 * nspawn is started in that namespace (`nsenter --net=FILE`: with a user namespace,
 * nspawn's `--network-namespace-path=` fails with EPERM, since its child joins after
 * entering the new user namespace, which does not own the network namespace) with the two
 * files bound read-only over /etc, and `ExecStopPost=` runs `down`, which systemd runs after every end
 * of the unit (stop, crash, kill of nspawn, failed start) whether agentd runs or not.
 * Pure: no I/O.
 */
import { CONTAINER_IFNAME } from '../network/conflist.js';
import type { ContainerNetwork, NetworkAttachment } from '../network/types.js';
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
    netns: `${host.network.netnsDir}/${c.name}`,
    runDir: host.network.runDir,
    cniPath: host.network.cniPath,
    ifname: CONTAINER_IFNAME,
  };
}

/** nspawn's network options. `idmap`: the suffix of bind mounts in a user namespace. */
export function nspawnNetworkArgs(c: ResolvedContainer, host: ContainerHost, idmap: string): string[] {
  const a = attachmentOf(c, host);
  if (a !== undefined) {
    const dir = `${a.runDir}/containers/${c.name}`;
    return [
      '--resolv-conf=off',
      `--bind-ro=${dir}/resolv.conf:/etc/resolv.conf${idmap}`,
      `--bind-ro=${dir}/hosts:/etc/hosts${idmap}`,
    ];
  }
  return c.network.mode === 'none' ? ['--private-network'] : [];
}

/** What runs nspawn in the container's network namespace: `nsenter --net=FILE --`, or nothing. */
export function networkEnter(c: ResolvedContainer, host: ContainerHost): string[] {
  const a = attachmentOf(c, host);
  return a === undefined ? [] : ['nsenter', `--net=${a.netns}`, '--'];
}

/** The helper's command lines: `[ExecStartPre argv, ExecStopPost argv]`, or undefined. */
export function networkCommands(c: ResolvedContainer, host: ContainerHost): [string[], string[]] | undefined {
  const a = attachmentOf(c, host);
  if (a === undefined || host.network === undefined) return undefined;
  const json = JSON.stringify(a);
  return [[...host.network.helper, 'up', json], [...host.network.helper, 'down', json]];
}

/**
 * What the manager's environment may hold that the network helper must not inherit: a CA
 * bundle node parses at every start (40 ms of each container start for a helper that
 * never speaks TLS) and node options the helper's command line does not give. nspawn
 * passes none of its environment to the payload, so a unit running the helper drops them.
 */
export function helperEnvironment(): [string, string] {
  return ['UnsetEnvironment', 'NODE_EXTRA_CA_CERTS NODE_OPTIONS'];
}
