/**
 * One simulated host for update tests: a GPT disk image (USR-A holding release 1.0.0 and
 * booted through the boot simulator), a state dir, a signing key made by real gpg, a
 * loopback channel server, and an engine factory wired to all of them.
 */
import { join } from 'node:path';
import { after, before } from 'node:test';
import { makeGpg, type Gpg, type GpgKey } from '../../../lib/gpg.js';
import { tmpdir } from '../../../lib/tmpdir.js';
import { bootSim, type Boot } from '../../../lib/boot-sim.js';
import { cloneDisk, makeDisk, slotHash, writeSlotBytes, type TestDisk } from '../../../lib/disk.js';
import { UpdateEngine, type UpdateEngineOptions } from '../../../../agent/host/update/engine.js';
import { makeVerifier } from './verifier.js';
import { imageBytes, publish, sha512, type PublishOptions } from './release.js';
import { serveDir, type ServerBehaviour, type TestServer } from './server.js';
import type { VerifySignature } from '../../../../agent/host/update/channel.js';

interface HasAfter {
  after(fn: () => unknown): void;
}

export const GROUP = 'stable';
export const BASE_VERSION = '1.0.0';
/** Not a multiple of any chunk size, to exercise partial writes. */
export const IMAGE_SIZE = 3 * 1024 * 1024 + 12345;

export interface World {
  dir: string;
  imageSize: number;
  disk: TestDisk;
  paths: { disk: string; cmdlinePath: string; stateDir: string; rebootRequiredPath: string };
  gpg: Gpg;
  key: GpgKey;
  server: TestServer;
  verify: VerifySignature;
  /** Content of each version published, by version. */
  images: Map<string, Buffer>;
  publish(version: string, more?: Partial<PublishOptions>): ReturnType<typeof publish>;
  engine(more?: Partial<UpdateEngineOptions>): UpdateEngine;
  boot(): Promise<Boot>;
}

/** Keys are slow to make: share one gpg home and key per suite. */
export interface Keys {
  gpg: Gpg;
  key: GpgKey;
}

export async function makeKeys(t: HasAfter): Promise<Keys> {
  const gpg = await makeGpg(t);
  return { gpg, key: await gpg.newKey('Release Signer <release@example.com>') };
}

/**
 * Suite-wide fixtures, made once in `before` and removed in `after`: a template disk made
 * by sgdisk (which sleeps a second per write; worlds copy it) and a gpg signing key.
 */
export function suiteFixtures(): { readonly template: TestDisk; readonly keys: Keys } {
  const cleanups: Array<() => unknown> = [];
  const owner: HasAfter = { after: (fn) => cleanups.push(fn) };
  let made: { template: TestDisk; keys: Keys } | undefined;
  before(async () => {
    const [template, keys] = await Promise.all([makeDisk(await tmpdir(owner), 8, 'template.img'), makeKeys(owner)]);
    made = { template, keys };
  });
  after(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });
  const get = (): { template: TestDisk; keys: Keys } => {
    if (!made) throw new Error('suite fixtures are made in before()');
    return made;
  };
  return {
    get template() {
      return get().template;
    },
    get keys() {
      return get().keys;
    },
  };
}

export async function makeWorld(t: HasAfter, template: TestDisk, keys: Keys, behaviour: ServerBehaviour = {}, imageSize = IMAGE_SIZE): Promise<World> {
  const dir = await tmpdir(t, 'update-world-');
  const disk = await cloneDisk(template, dir);
  const base = imageBytes(BASE_VERSION, imageSize);
  await writeSlotBytes(disk, 'A', base);
  const channelDir = join(dir, 'channel');
  const server = await serveDir(t, channelDir, behaviour);
  const verify = await makeVerifier([keys.key.armored]);
  const paths = {
    disk: disk.path,
    cmdlinePath: join(dir, 'cmdline'),
    stateDir: join(dir, 'state'),
    rebootRequiredPath: join(dir, 'run', 'reboot-required'),
  };
  const images = new Map([[BASE_VERSION, base]]);
  const world: World = {
    dir,
    imageSize,
    disk,
    paths,
    ...keys,
    server,
    verify,
    images,
    publish: (version, more = {}) => {
      const image = more.image ?? imageBytes(version, imageSize);
      images.set(version, image);
      return publish({ dir: channelDir, group: GROUP, version, image, compression: 'xz', ...keys, ...more });
    },
    engine: (more = {}) =>
      new UpdateEngine({
        ...paths,
        server: server.url,
        group: GROUP,
        currentVersion: BASE_VERSION,
        verifySignature: verify,
        retryDelayMs: 0,
        checkpointBytes: 256 * 1024,
        ...more,
      }),
    boot: () => bootSim(disk.path, { cmdlinePath: paths.cmdlinePath }),
  };
  await world.boot();
  return world;
}

/** The released version whose image `slot` holds, or undefined. */
export async function versionIn(world: World, slot: 'A' | 'B'): Promise<string | undefined> {
  for (const [version, image] of world.images) {
    if ((await slotHash(world.disk, slot, image.length)) === sha512(image)) return version;
  }
  return undefined;
}
