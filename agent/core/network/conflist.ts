/**
 * CNI network lists (declared networks): checking a declared conflist, and what each plugin
 * receives on stdin (CNI spec 1.0: the list's name and cniVersion, the runtime config of
 * the capabilities it asks for, the previous plugin's result). Pure: no I/O.
 */
import type { CniConflist, CniPluginConf, PortMapping } from './types.js';

export const DEFAULT_NETWORK = 'default';
/** The interface name of a container's network in the container. */
export const CONTAINER_IFNAME = 'eth0';
const PLUGIN_TYPE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
/** A network's name: lower-case letters, digits, `.`, `_`, `-`, at most 63. */
export const NETWORK_NAME = /^[a-z0-9][a-z0-9_.-]{0,62}$/;

/** Problems of a declared conflist (JSON text or parsed), one message each; empty: fine. */
export function conflistProblems(value: unknown): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return ['a CNI conflist is a JSON object with "cniVersion", "name" and "plugins"'];
  const v = value as Record<string, unknown>;
  const problems: string[] = [];
  if (v.cniVersion !== undefined && typeof v.cniVersion !== 'string') problems.push('"cniVersion" must be a string such as "1.0.0"');
  if (v.name !== undefined && (typeof v.name !== 'string' || !NETWORK_NAME.test(v.name))) problems.push('"name" must be lower-case letters, digits, ".", "_" or "-" (at most 63)');
  if (!Array.isArray(v.plugins) || v.plugins.length === 0) {
    problems.push('"plugins" must be a non-empty list of plugin configurations, e.g. [{"type": "bridge", …}]');
    return problems;
  }
  v.plugins.forEach((p, i) => {
    if (typeof p !== 'object' || p === null || Array.isArray(p)) problems.push(`plugins[${i}] must be an object`);
    else if (typeof (p as Record<string, unknown>).type !== 'string' || !PLUGIN_TYPE.test((p as Record<string, string>).type)) {
      problems.push(`plugins[${i}].type must name a plugin binary in the CNI path (e.g. "bridge"), without "/"`);
    }
  });
  return problems;
}

/** A declared conflist as the helper runs it: its name is the network's, cniVersion defaults to 1.0.0. */
export function normalizeConflist(name: string, value: Record<string, unknown>): CniConflist {
  return {
    ...value,
    cniVersion: typeof value.cniVersion === 'string' ? value.cniVersion : '1.0.0',
    name,
    plugins: value.plugins as CniPluginConf[],
  };
}

/**
 * What plugin `plugin` of `list` reads on stdin: its own configuration with the list's
 * name and cniVersion, `runtimeConfig` for each capability it declares that the runtime
 * has, and `prevResult` (ADD: the previous plugin's result; DEL: the cached result).
 */
export function pluginInput(list: CniConflist, plugin: CniPluginConf, runtime: { portMappings: PortMapping[] }, prevResult: unknown): Record<string, unknown> {
  const { capabilities, ...rest } = plugin;
  const runtimeConfig: Record<string, unknown> = {};
  if (capabilities?.portMappings === true && runtime.portMappings.length > 0) runtimeConfig.portMappings = runtime.portMappings;
  return {
    ...rest,
    ...(capabilities !== undefined && { capabilities }),
    cniVersion: list.cniVersion,
    name: list.name,
    ...(Object.keys(runtimeConfig).length > 0 && { runtimeConfig }),
    ...(prevResult !== undefined && { prevResult }),
  };
}

/** The container's IPv4 addresses in a CNI result (`ips[].address` without the prefix length). */
export function resultAddresses(result: unknown): string[] {
  const ips = (result as { ips?: Array<{ address?: unknown }> } | undefined)?.ips;
  if (!Array.isArray(ips)) return [];
  return ips.flatMap((ip) => (typeof ip.address === 'string' ? [ip.address.split('/')[0]!] : []));
}
