/**
 * The host's side of container networks: where they live, how a unit runs the CNI helper,
 * and the built-in `default` network (../../core/network/macvlan.ts), its subnet chosen
 * against the host's routes (/proc/net/route) unless one is set.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NetworkHost } from '../../core/containers/network.js';
import { AgentError } from '../../core/errors.js';
import { DEFAULT_NETWORK } from '../../core/network/conflist.js';
import { chooseSubnet, parseProcRoutes, SUBNET_CANDIDATES } from '../../core/network/subnet.js';
import type { MacvlanNetwork } from '../../core/network/types.js';

export interface NetworkSettings extends NetworkHost {
  /** The default network's host interface (holding the gateway address; its parent device is `<bridge>-p`). */
  bridge: string;
  /** The default network's subnet; absent: the first of SUBNET_CANDIDATES free of the host's routes. */
  subnet?: string;
  /** Default /proc/net/route. */
  routesFile?: string;
}

/**
 * The default network's host interface. Not `hostagent0`, the bridge the CNI plugins made for
 * this network before: one left by an older agent keeps its route, and the subnet choice
 * moves past it.
 */
export const DEFAULT_BRIDGE = 'hostagent';

/** Settings under `runtimeDir` (`/run/host-agent`): everything a reboot clears goes with it. */
export function networkSettings(runtimeDir: string, helper: string[], extra: { bridge?: string; subnet?: string } = {}): NetworkSettings {
  return {
    helper,
    runDir: join(runtimeDir, 'network'),
    netnsDir: join(runtimeDir, 'netns'),
    cniPath: ['/usr/lib/cni'],
    bridge: extra.bridge ?? DEFAULT_BRIDGE,
    ...(extra.subnet !== undefined && { subnet: extra.subnet }),
  };
}

/**
 * argv that runs agent/net-helper next to this installation, with the node options this
 * process runs with (a loader such as tsx given as an absolute URL: the unit's working
 * directory is not ours).
 */
export function helperCommand(): string[] {
  const self = fileURLToPath(import.meta.url);
  const ext = self.endsWith('.ts') ? '.ts' : '.js';
  const helper = fileURLToPath(new URL(`../../net-helper${ext}`, import.meta.url));
  const nodeArgs: string[] = [];
  for (let i = 0; i < process.execArgv.length; i++) {
    const arg = process.execArgv[i]!;
    if (arg === '--import' && process.execArgv[i + 1] !== undefined) {
      const spec = process.execArgv[++i]!;
      nodeArgs.push('--import', /^[./]|^file:/.test(spec) ? spec : import.meta.resolve(spec));
    }
  }
  return [process.execPath, ...nodeArgs, helper];
}

export async function defaultNetwork(s: NetworkSettings): Promise<MacvlanNetwork> {
  const subnet = s.subnet ?? chooseSubnet(parseProcRoutes(await readFile(s.routesFile ?? '/proc/net/route', 'utf8')), s.bridge);
  if (subnet === undefined) {
    throw new AgentError({
      code: 'container.no-subnet',
      message: `every candidate subnet of the default network (${SUBNET_CANDIDATES.join(', ')}) collides with a route of this host`,
      hint: 'Declare a network with a free subnet under host-agent.networks and choose it with network:',
    });
  }
  return { name: DEFAULT_NETWORK, iface: s.bridge, subnet };
}
