/**
 * A small composition for update-service tests: an UpdateService over an update test
 * world (GPT disk image made by sgdisk, loopback channel, real gpg key in the update
 * keyring under trustedkeys/update.d), with the units' states kept in a map the test sets.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { UpdateService, type UpdateServiceOptions } from '../../../agent/daemon/update-service.js';
import { createLogger } from '../../../agent/host/log/logger.js';
import type { KeystorePaths } from '../../../agent/host/trust/keystore.js';
import { GROUP, type World } from '../update/helpers/world.js';

export interface ServiceRig {
  service: UpdateService;
  keyring: KeystorePaths;
  /** ActiveState of each required unit, as the test sets it. */
  units: Map<string, string>;
  log: string[];
}

interface HasAfter {
  after(fn: () => unknown): void;
}

export function keyringOf(w: World): KeystorePaths {
  return { adminDir: join(w.dir, 'etc-trustedkeys'), systemDir: join(w.dir, 'usr-trustedkeys') };
}

/** Put the world's signing key into the system update keyring. */
export async function trustReleaseKey(w: World): Promise<void> {
  const dir = join(keyringOf(w).systemDir, 'update.d');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, w.key.fingerprint), w.key.armored);
}

/** An UpdateService for `w` running `version`; stopped after the test. */
export function makeService(t: HasAfter, w: World, version: string, more: Partial<UpdateServiceOptions> = {}): ServiceRig {
  const log: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      log.push(chunk.toString().trim());
      cb();
    },
  });
  const units = new Map([['web.service', 'active'], ['host-agent.service', 'active']]);
  const keyring = keyringOf(w);
  const service = new UpdateService({
    paths: w.paths,
    keyring,
    channel: { server: w.server.url, group: GROUP },
    currentVersion: version,
    log: createLogger('human', 'debug', sink),
    requiredUnits: async () => [...units.keys()],
    unitActiveState: async (unit) => units.get(unit) ?? 'inactive',
    graceMs: 30,
    healthTimeoutMs: 300,
    healthPollMs: 20,
    checkSchedule: null,
    engine: { retryDelayMs: 0, checkpointBytes: 256 * 1024 },
    ...more,
  });
  t.after(() => service.stop());
  return { service, keyring, units, log };
}
