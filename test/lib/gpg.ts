/**
 * Real gpg for tests: a throw-away GNUPGHOME, quick ed25519 signing keys without a
 * passphrase, armored public keys and detached armored signatures made by `gpg` itself,
 * so our openpgp code is checked against the reference tool. The gpg-agent that gpg starts
 * is stopped through its own socket (`gpgconf --kill`) when the test ends.
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { tmpdir } from './tmpdir.js';

const run = promisify(execFile);

interface HasAfter {
  after(fn: () => unknown): void;
}

export interface GpgKey {
  /** Lowercase hex fingerprint. */
  fingerprint: string;
  /** The ASCII-armored public key. */
  armored: string;
  uid: string;
}

export interface Gpg {
  home: string;
  /** Makes a new signing key (ed25519, no passphrase, no expiry). */
  newKey(uid: string): Promise<GpgKey>;
  /** Writes `<file>.asc`: a detached armored signature of `file` by `key`; returns its path. */
  sign(file: string, key: GpgKey, out?: string): Promise<string>;
  /** The armored secret key (to check that it is refused where a public key belongs). */
  exportSecret(key: GpgKey): Promise<string>;
}

/** A gpg home for one test (or suite); everything is removed and the agent stopped after. */
export async function makeGpg(t: HasAfter): Promise<Gpg> {
  const base = await tmpdir(t, 'gpg-');
  const home = join(base, 'h');
  await mkdir(home, { mode: 0o700 });
  const env = { ...process.env, GNUPGHOME: home };
  const gpg = (...args: string[]) => run('gpg', ['--batch', '--no-tty', '--quiet', ...args], { env });
  t.after(() => run('gpgconf', ['--kill', 'gpg-agent'], { env }).catch(() => undefined));

  return {
    home,
    async newKey(uid) {
      await gpg('--passphrase', '', '--pinentry-mode', 'loopback', '--quick-gen-key', uid, 'ed25519', 'sign', 'never');
      const { stdout } = await gpg('--with-colons', '--fingerprint', '--list-keys', `=${uid}`);
      const fpr = stdout.split('\n').find((l) => l.startsWith('fpr:'));
      if (!fpr) throw new Error(`gpg made no key for ${uid}`);
      const fingerprint = fpr.split(':')[9]!.toLowerCase();
      const { stdout: armored } = await gpg('--armor', '--export', fingerprint);
      return { fingerprint, armored, uid };
    },
    async sign(file, key, out = `${file}.asc`) {
      await gpg('--yes', '--local-user', key.fingerprint, '--armor', '--output', out, '--detach-sign', file);
      await readFile(out); // fails loudly when gpg wrote nothing
      return out;
    },
    async exportSecret(key) {
      const { stdout } = await gpg('--pinentry-mode', 'loopback', '--passphrase', '', '--armor', '--export-secret-keys', key.fingerprint);
      return stdout;
    },
  };
}
