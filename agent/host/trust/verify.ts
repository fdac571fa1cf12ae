/**
 * Checks a detached ASCII-armored OpenPGP signature over a byte stream (an image as served)
 * against the keys trusted for the image's name. The data is streamed through openpgp's
 * hash, never held whole in memory. Errors say which key signed and how to trust it.
 */
import { Readable } from 'node:stream';
// openpgp is loaded on the first verification, not at start: it is the largest module agentd has.
import type { PublicKey, Signature } from 'openpgp';
import { AgentError } from '../../core/errors.js';
import type { TrustedKey } from './keystore.js';
import { showFingerprint } from './keys.js';

export interface VerifyInput {
  /** The image name the signature is checked for (shown in errors, decides trust). */
  name: string;
  /** The armored detached signature. */
  signature: string;
  /** The signed bytes. */
  data: Readable;
  /** Keys trusted for `name` (Keystore.keysFor). */
  trusted: TrustedKey[];
  /** What `trusted` is trusted for, in messages; default `name`. */
  scope?: string;
  /** Every trusted key, to tell "unknown key" from "key trusted for another prefix". */
  known?: TrustedKey[];
  /** What is signed, in messages: default `image`; the update engine says `release`. */
  what?: string;
  /** How to trust the signer, when it is not trusted; default: `agentctl trust --prefix NAME KEYFILE`. */
  trustHint?: string;
}

export interface Verified {
  /** Lowercase fingerprint of the signer's primary key. */
  fingerprint: string;
}

async function readArmoredSignature(text: string, name: string, what: string): Promise<Signature> {
  const { readSignature } = await import('openpgp');
  try {
    return await readSignature({ armoredSignature: text });
  } catch (e) {
    throw new AgentError({
      code: 'trust.signature-unreadable',
      message: `the signature of ${what} ${name} is not an armored OpenPGP signature`,
      subject: name,
      hint: `The publisher must serve a detached signature made with \`gpg --armor --detach-sign\` next to the ${what}`,
      cause: e,
    });
  }
}

/** The signer as named by the signature: its fingerprint when given, else its key ID. */
function signerOf(signature: Signature): string {
  const packet = signature.packets[0] as { issuerFingerprint?: Uint8Array | null } | undefined;
  if (packet?.issuerFingerprint) return Buffer.from(packet.issuerFingerprint).toString('hex');
  return signature.getSigningKeyIDs()[0]?.toHex() ?? 'unknown';
}

/** The candidates holding the key (or subkey) that made `signature`. */
async function signingKeys(candidates: TrustedKey[], signature: Signature): Promise<{ entry: TrustedKey; key: PublicKey }[]> {
  const { readKey } = await import('openpgp');
  const ids = signature.getSigningKeyIDs();
  const found = [];
  for (const entry of candidates) {
    const key = await readKey({ armoredKey: entry.armored });
    if (ids.some((id) => key.getKeys(id).length > 0)) found.push({ entry, key });
  }
  return found;
}

/**
 * The error for a signer (fingerprint or key ID) that is not among the keys trusted for
 * `input.name`; `elsewhere` are the trusted keys (for other prefixes) that hold it.
 */
export function untrustedSigner(input: Omit<VerifyInput, 'data' | 'trusted'>, signer: string, elsewhere: TrustedKey[]): AgentError {
  const { name } = input;
  const what = input.what ?? 'image';
  const shown = showFingerprint(signer);
  const scopes = [...new Set(elsewhere.map((k) => k.prefix ?? ''))].filter((p) => p !== '');
  return new AgentError({
    code: 'trust.key-untrusted',
    message:
      `${what} ${name} is signed by key ${shown} which is not trusted for ${input.scope ?? name}` +
      (scopes.length > 0 ? ` (it is trusted only for ${scopes.join(', ')})` : ''),
    subject: name,
    hint:
      input.trustHint ??
      `If you trust this publisher for ${name}, run \`agentctl trust --prefix ${name} KEYFILE\` with their public key (fingerprint ${shown})`,
  });
}

/** Verifies `data` against `signature`; resolves with the signer when it is trusted. */
export async function verifyDetached(input: VerifyInput): Promise<Verified> {
  const what = input.what ?? 'image';
  const signature = await readArmoredSignature(input.signature, input.name, what);
  const [found] = await signingKeys(input.trusted, signature);
  if (!found) {
    input.data.destroy();
    const elsewhere = (await signingKeys(input.known ?? [], signature)).map((k) => k.entry);
    throw untrustedSigner(input, signerOf(signature), elsewhere);
  }
  const { createMessage, verify } = await import('openpgp');
  const message = await createMessage({ binary: Readable.toWeb(input.data) as ReadableStream<Uint8Array> });
  try {
    const result = await verify({ message, signature, verificationKeys: [found.key], format: 'binary' });
    const reader = (result.data as ReadableStream<Uint8Array>).getReader();
    while (!(await reader.read()).done);
    await result.signatures[0]!.verified;
  } catch (e) {
    if (e instanceof AgentError) throw e;
    if (input.data.errored) throw input.data.errored;
    throw new AgentError({
      code: 'trust.signature-invalid',
      message: `the signature of ${what} ${input.name} by key ${showFingerprint(found.entry.fingerprint)} does not match the ${what} (${e instanceof Error ? e.message : String(e)})`,
      subject: input.name,
      hint: `The ${what} was changed after it was signed or damaged in transit: fetch it again, and tell the publisher if it keeps failing`,
      cause: e,
    });
  }
  return { fingerprint: found.entry.fingerprint };
}
