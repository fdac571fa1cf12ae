/**
 * What a container's network is, as the renderer and the network helper take it: the host's
 * network, none (loopback only), the built-in `default` network (a macvlan network the
 * container's unit sets up itself, ./macvlan.ts), or a CNI network list (conflist) the
 * helper runs in a network namespace of the container's own. Pure: types only.
 */

/** A CNI network configuration list (CNI spec 1.0 `.conflist`): `plugins` run in order. */
export interface CniConflist {
  cniVersion: string;
  name: string;
  plugins: CniPluginConf[];
}

/** One plugin's configuration: `type` names the binary in the CNI path; the rest is the plugin's. */
export interface CniPluginConf {
  type: string;
  capabilities?: Record<string, boolean>;
  [key: string]: unknown;
}

export interface PortMapping {
  hostPort: number;
  containerPort: number;
  protocol: 'tcp' | 'udp';
}

/** A network of host-agent's own (the built-in `default`): see ./macvlan.ts. */
export interface MacvlanNetwork {
  /** The network's name (`default`): leases under `ipam/<name>/`, results as `<name>-<container>-eth0`. */
  name: string;
  /** The host's interface on the network, holding the subnet's first address (at most 13 characters). */
  iface: string;
  /** An IPv4 subnet in CIDR notation, e.g. `172.16.28.0/24`. */
  subnet: string;
}

export type ContainerNetwork =
  | { mode: 'host' }
  | { mode: 'none' }
  /** The built-in network, before the host side gives it its interface and subnet. */
  | { mode: 'default'; dns: string[] }
  | { mode: 'macvlan'; network: MacvlanNetwork; dns: string[] }
  | {
    mode: 'cni';
    conflist: CniConflist;
    /** Nameservers for the container's resolv.conf; empty: the host's. */
    dns: string[];
  };

/**
 * Everything the network helper needs to set up or tear down one container's network:
 * the argument of `agentd-net up|down` in the container's unit.
 */
export interface NetworkAttachment {
  /** The container's name: the CNI container ID, the hostname and the name in /etc/hosts. */
  container: string;
  conflist: CniConflist;
  ports: PortMapping[];
  dns: string[];
  /** The network namespace file (bind mount), e.g. `/run/host-agent/netns/<name>`. */
  netns: string;
  /** Results cached for DEL, IPAM leases, and the container's resolv.conf and hosts. */
  runDir: string;
  /** Directories holding the plugin binaries (CNI_PATH). */
  cniPath: string[];
  /** The interface in the container. */
  ifname: string;
}
