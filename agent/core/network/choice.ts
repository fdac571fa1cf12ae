/**
 * From a declaration's `network:` and `dns:` to the container's network: `host`, `none`,
 * the built-in `default` (absent means default; isolation fly always shares the host's
 * network), or a network of `host-agent.networks` with its conflist. A declared network
 * named `default` replaces the built-in one, as in rkt (the default network run through
 * the CNI plugins of its conflist). Pure: no I/O.
 */
import { DEFAULT_NETWORK, normalizeConflist } from './conflist.js';
import type { ContainerNetwork } from './types.js';

export interface NetworkChoice {
  network?: string;
  dns: string[];
  isolation: 'nspawn' | 'fly';
}

/** The name of the network a declaration chooses: `default`, `host`, `none` or a declared one. */
export function networkNameOf(c: { network?: string; isolation: 'nspawn' | 'fly' }): string {
  return c.network ?? (c.isolation === 'fly' ? 'host' : DEFAULT_NETWORK);
}

/** The container's network, or a message when it names a network that is not declared. */
export function chooseNetwork(c: NetworkChoice, declared: ReadonlyArray<{ name: string; conflist: Record<string, unknown> }>): ContainerNetwork | string {
  const name = networkNameOf(c);
  if (name === 'host') return { mode: 'host' };
  if (name === 'none') return { mode: 'none' };
  const found = declared.find((n) => n.name === name);
  if (name === DEFAULT_NETWORK && !found) return { mode: 'default', dns: c.dns };
  if (!found) return `network "${name}" is not declared; declare it under host-agent.networks, or use default, host or none`;
  return { mode: 'cni', conflist: normalizeConflist(name, found.conflist), dns: c.dns };
}

/** The name of a container's network as `ps` and `status` show it. */
export function networkName(net: ContainerNetwork): string {
  switch (net.mode) {
    case 'cni': return net.conflist.name;
    case 'macvlan': return net.network.name;
    default: return net.mode;
  }
}
