/**
 * Our own section, `host-agent:`: the containers this host runs, when images are checked and
 * containers may restart for a newer image, and which keys are trusted for which image names
 * (DESIGN.md §4). Values are checked by ./checks.ts with messages that name the fix. The
 * section is strict: an unknown, misplaced or wrongly typed key is an error. Each container
 * stands alone: an error in one rejects that container, not the configuration.
 * Pure: no I/O.
 */
import {
  absolutePath, checkArmoredKey, checkContainerName, checkCpu, checkCron, checkEnvironmentName, checkImage,
  checkIsolation, checkMemory, checkPort, checkPrivateUsers, checkProtocol, checkRestart, checkTrustPrefix,
  checkUserOrGroup, checkWindowLength, checkWindowStart, checkUpdateProtocol, checkAppId,
} from './checks.js';
import { conflistProblems, NETWORK_NAME } from '../network/conflist.js';
import { bool, int, isolatedList, list, str, strictStruct, struct, type Schema, type ValueCheck } from './schema.js';

/** Names a declared network cannot take (`default` it may: it then replaces the built-in one). */
const BUILT_IN_NETWORKS = ['host', 'none'];

const checkNetworkChoice: ValueCheck<string> = (v) => (NETWORK_NAME.test(v) ? undefined
  : `invalid network "${v}": use default, host, none or the name of a network of host-agent.networks`);
const checkNetworkName: ValueCheck<string> = (v) => (!NETWORK_NAME.test(v)
  ? `invalid network name "${v}": lower-case letters, digits, ".", "_" or "-", at most 63`
  : BUILT_IN_NETWORKS.includes(v) ? `"${v}" is a built-in network; give the declared network another name` : undefined);
const checkNameserver: ValueCheck<string> = (v) => (/^(\d{1,3}(\.\d{1,3}){3}|[0-9a-fA-F:]*:[0-9a-fA-F:.]+)$/.test(v) ? undefined
  : `invalid nameserver "${v}": an IPv4 or IPv6 address such as 192.0.2.53`);
/** A CNI conflist, as JSON text (the file format of /etc/cni/net.d/*.conflist). */
const checkConflist: ValueCheck<string> = (v) => {
  let value: unknown;
  try {
    value = JSON.parse(v);
  } catch (e) {
    return `the conflist is not JSON (${(e as Error).message}); write the CNI conflist as a JSON text, e.g. {"cniVersion": "1.0.0", "plugins": [{"type": "bridge", …}]}`;
  }
  const problems = conflistProblems(value);
  return problems.length > 0 ? `invalid conflist: ${problems.join('; ')}` : undefined;
};

const volumes = list(struct({
  host: str({ check: absolutePath('volume host path') }),
  path: str({ check: absolutePath('volume path') }),
  read_only: bool(),
}));

/** An app of a pod: a list replaced whole by a drop-in that gives it. */
const app = struct({
  name: str({ check: checkContainerName }),
  image: str({ check: checkImage }),
  exec: list(str()),
  environment: { kind: 'map', of: str(), keyCheck: checkEnvironmentName },
  volumes,
  user: str({ check: checkUserOrGroup('user') }),
  group: str({ check: checkUserOrGroup('group') }),
  working_directory: str({ check: absolutePath('working directory') }),
});

const container = struct({
  name: str({ check: checkContainerName }),
  image: str({ check: checkImage }),
  exec: list(str()),
  environment: { kind: 'map', of: str(), keyCheck: checkEnvironmentName },
  volumes,
  memory: str({ check: checkMemory }),
  cpu: str({ check: checkCpu }),
  restart: str({ check: checkRestart }),
  isolation: str({ check: checkIsolation }),
  auto_update: bool(),
  user: str({ check: checkUserOrGroup('user') }),
  group: str({ check: checkUserOrGroup('group') }),
  working_directory: str({ check: absolutePath('working directory') }),
  ports: list(struct({ host: int(checkPort), container: int(checkPort), protocol: str({ check: checkProtocol }) })),
  private_users: str({ check: checkPrivateUsers }),
  network: str({ check: checkNetworkChoice }),
  dns: list(str({ check: checkNameserver })),
  apps: list(app),
});

const network = struct({ name: str({ check: checkNetworkName }), conflist: str({ check: checkConflist }) });

const images = struct({
  check: str({ check: checkCron }),
  window: struct({ start: str({ check: checkWindowStart }), length: str({ check: checkWindowLength }) }),
});

/** How the OS update server (coreos.update.server) is spoken to. */
const update = struct({ protocol: str({ check: checkUpdateProtocol }), app_id: str({ check: checkAppId }) });

const trust = struct({ prefix: str({ check: checkTrustPrefix }), key: str({ check: checkArmoredKey }) });

export const HOST_AGENT: Schema = strictStruct({
  containers: isolatedList(container, 'name', 'container'),
  images,
  update,
  trust: list(trust, 'prefix'),
  networks: list(network, 'name'),
});
