/**
 * Shared set-up of the image integration tests: a gpg with a key trusted for
 * `example.com/app`, a key trusted for `example.com/other` and an untrusted one; a keystore
 * and a store in temp dirs; helpers to sign images and to snapshot the store's files.
 */
import { after } from 'node:test';
import { readdir, lstat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { Keystore } from '../../../agent/host/trust/keystore.js';
import { ImageStore } from '../../../agent/host/images/store.js';
import { makeGpg, type Gpg, type GpgKey } from '../../lib/gpg.js';
import { tmpdir } from '../../lib/tmpdir.js';

interface HasAfter {
  after(fn: () => unknown): void;
}

/** A cleanup scope for a whole test file: call at module level; cleans up after all tests. */
export function suiteScope(): HasAfter {
  const cleanups: (() => unknown)[] = [];
  after(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });
  return { after: (fn) => cleanups.push(fn) };
}

export interface Keys {
  gpg: Gpg;
  /** Trusted for example.com/app. */
  app: GpgKey;
  /** Trusted for example.com/other only. */
  other: GpgKey;
  /** Not trusted at all. */
  stranger: GpgKey;
}

export async function makeKeys(t: HasAfter): Promise<Keys> {
  const gpg = await makeGpg(t);
  return {
    gpg,
    app: await gpg.newKey('App Publisher <app@example.com>'),
    other: await gpg.newKey('Other Publisher <other@example.com>'),
    stranger: await gpg.newKey('Stranger <stranger@example.net>'),
  };
}

export async function makeKeystore(t: HasAfter, keys: Keys): Promise<Keystore> {
  const dir = await tmpdir(t, 'keys-');
  const keystore = new Keystore({ adminDir: join(dir, 'etc'), systemDir: join(dir, 'usr') });
  await keystore.add(keys.app.armored, { prefix: 'example.com/app' });
  await keystore.add(keys.other.armored, { prefix: 'example.com/other' });
  return keystore;
}

export async function makeStore(t: HasAfter): Promise<ImageStore> {
  return ImageStore.open({ stateDir: await tmpdir(t, 'state-') });
}

/** Every path under `dir` with its type, size and mode: equal snapshots mean nothing changed. */
export async function snapshot(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(d: string): Promise<void> {
    for (const name of (await readdir(d)).sort()) {
      const path = join(d, name);
      const info = await lstat(path);
      out.push(`${relative(dir, path)} ${info.isDirectory() ? 'd' : info.size} ${(info.mode & 0o7777).toString(8)}`);
      if (info.isDirectory()) await walk(path);
    }
  }
  await walk(dir);
  return out;
}
