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
  checkUserOrGroup, checkWindowLength, checkWindowStart,
} from './checks.js';
import { bool, int, isolatedList, list, str, strictStruct, struct, type Schema } from './schema.js';

const container = struct({
  name: str({ check: checkContainerName }),
  image: str({ check: checkImage }),
  exec: list(str()),
  environment: { kind: 'map', of: str(), keyCheck: checkEnvironmentName },
  volumes: list(struct({
    host: str({ check: absolutePath('volume host path') }),
    path: str({ check: absolutePath('volume path') }),
    read_only: bool(),
  })),
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
});

const images = struct({
  check: str({ check: checkCron }),
  window: struct({ start: str({ check: checkWindowStart }), length: str({ check: checkWindowLength }) }),
});

const trust = struct({ prefix: str({ check: checkTrustPrefix }), key: str({ check: checkArmoredKey }) });

export const HOST_AGENT: Schema = strictStruct({
  containers: isolatedList(container, 'name', 'container'),
  images,
  trust: list(trust, 'prefix'),
});
