/**
 * Signs an image: an ASCII-armored detached OpenPGP signature of the archive's bytes,
 * written to `IMAGE.asc`, made with a v4 private key read from an armored key file
 * (`gpg --armor --export-secret-keys`); a passphrase-protected key is unlocked with the
 * passphrase given. This is what `agentctl fetch` checks against the trusted keys.
 */
import { readFile } from 'node:fs/promises';
import { AgentError } from '../../core/errors.js';
import { writeFileAtomic } from '../fs/atomic.js';
import { showFingerprint } from '../trust/keys.js';

function keyError(message: string, subject: string, hint: string, cause?: unknown): AgentError {
  return new AgentError({ code: 'image.sign-key', message, subject, hint, cause });
}

export interface SignResult {
  /** The signature file written. */
  signature: string;
  /** The signing key's fingerprint, shown in groups of four. */
  fingerprint: string;
}

/** Signs `image` with the key in `keyFile`; writes `${image}.asc`. */
export async function signImage(image: string, keyFile: string, passphrase?: string): Promise<SignResult> {
  const openpgp = await import('openpgp');
  const armored = await readFile(keyFile, 'utf8').catch((e: unknown) => {
    throw keyError('cannot read the key file', keyFile, 'Give an armored private key file, e.g. from gpg --armor --export-secret-keys KEYID > key.sec', e);
  });
  let key = await openpgp.readPrivateKey({ armoredKey: armored }).catch((e: unknown) => {
    throw keyError(`not an armored OpenPGP private key: ${(e as Error).message}`, keyFile, 'Export it with gpg --armor --export-secret-keys KEYID > key.sec', e);
  });
  if (key.keyPacket.version !== 4) {
    throw keyError(`a v${key.keyPacket.version} key; images are signed with v4 keys`, keyFile, 'Make a v4 key, e.g. gpg --quick-gen-key "Me <me@example.com>" ed25519 sign never');
  }
  if (!key.isDecrypted()) {
    if (passphrase === undefined) throw keyError('the key is protected by a passphrase', keyFile, 'Give it with --passphrase-file FILE');
    key = await openpgp.decryptKey({ privateKey: key, passphrase }).catch((e: unknown) => {
      throw keyError('the passphrase does not unlock the key', keyFile, 'Check the --passphrase-file', e);
    });
  }
  const data = await readFile(image);
  const message = await openpgp.createMessage({ binary: data });
  const signature = await openpgp.sign({ message, signingKeys: key, detached: true, format: 'armored' });
  const out = `${image}.asc`;
  await writeFileAtomic(out, signature as string);
  return { signature: out, fingerprint: showFingerprint(key.getFingerprint()) };
}
