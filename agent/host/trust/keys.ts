/**
 * Reading OpenPGP public keys given by a person (a key file, a URL's body, cloud-config):
 * exactly one public key, never a secret key. Fingerprints are lowercase hex everywhere in
 * host-agent (file names, JSON); `showFingerprint` is the form printed for people.
 */
// openpgp is loaded when a key is read, not at start: it is the largest module agentd has.
import type { PublicKey } from 'openpgp';
import { AgentError } from '../../core/errors.js';

export interface ParsedKey {
  key: PublicKey;
  /** Lowercase hex fingerprint of the primary key. */
  fingerprint: string;
  userIds: string[];
  /** The key, ASCII-armored, as stored in the keyring. */
  armored: string;
}

/** Parses one armored (or binary) public key; `source` names it in errors. */
export async function parsePublicKey(data: string | Uint8Array, source: string): Promise<ParsedKey> {
  const { readKey } = await import('openpgp');
  let key;
  try {
    key =
      typeof data === 'string' && data.includes('-----BEGIN PGP')
        ? await readKey({ armoredKey: data })
        : await readKey({ binaryKey: typeof data === 'string' ? new TextEncoder().encode(data) : data });
  } catch (e) {
    throw new AgentError({
      code: 'trust.invalid-key',
      message: 'not an OpenPGP public key',
      subject: source,
      hint: 'Give the publisher\'s public key, e.g. exported with `gpg --armor --export FINGERPRINT`',
      cause: e,
    });
  }
  if (key.isPrivate()) {
    throw new AgentError({
      code: 'trust.secret-key',
      message: 'this is a secret key; only public keys are trusted',
      subject: source,
      hint: 'Export the public part with `gpg --armor --export FINGERPRINT` and trust that file',
    });
  }
  return {
    key,
    fingerprint: key.getFingerprint().toLowerCase(),
    userIds: key.getUserIDs(),
    armored: key.armor(),
  };
}

/** Normalises a fingerprint typed by a person ("ABCD 1234 …") to lowercase hex, or undefined. */
export function normalizeFingerprint(text: string): string | undefined {
  const hex = text.replace(/\s+/g, '').replace(/^0x/i, '').toLowerCase();
  return /^([0-9a-f]{40}|[0-9a-f]{64})$/.test(hex) ? hex : undefined;
}

/** A fingerprint as shown to people: uppercase groups of four. */
export function showFingerprint(fingerprint: string): string {
  return fingerprint.toUpperCase().replace(/(.{4})(?=.)/g, '$1 ');
}
