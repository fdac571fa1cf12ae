/**
 * containers "simple signing" with openpgp: verifying a signature (an OpenPGP signed
 * message, binary as skopeo and podman write it, or armored) against a policy rule's keys,
 * and making one. The OpenPGP signature is verified BEFORE its JSON payload is parsed:
 * nothing an unverified signature says is looked at. Signatures made here use v4 keys,
 * which gpg 2.2 (and so skopeo on Debian 12) can read.
 */
import { createHash } from 'node:crypto';
import type { PrivateKey, PublicKey } from 'openpgp';
import { AgentError } from '../../core/errors.js';
import { buildSignaturePayload, checkSignedDigest, parseSignaturePayload, type SignaturePayload } from '../../core/oci/signature-payload.js';

export interface VerifiedSignature extends SignaturePayload {
  /** Lowercase fingerprint of the signer's primary key. */
  fingerprint: string;
}

/** Reads every public key in `data` (armored or binary, one or several); `source` names it in errors. */
export async function readPublicKeys(data: Uint8Array, source: string): Promise<PublicKey[]> {
  const { readKeys } = await import('openpgp');
  const text = Buffer.from(data).toString('latin1');
  try {
    const keys = text.includes('-----BEGIN PGP PUBLIC KEY BLOCK-----') ? await readKeys({ armoredKeys: text }) : await readKeys({ binaryKeys: data });
    if (keys.some((k) => k.isPrivate())) throw new Error('a secret key where a public key belongs');
    return keys as PublicKey[];
  } catch (e) {
    throw new AgentError({
      code: 'image.policy-key-invalid',
      message: `not an OpenPGP public key (${(e as Error).message})`,
      subject: source,
      hint: 'Give the publisher\'s public key, e.g. from gpg --export FINGERPRINT (armored or binary)',
      cause: e,
    });
  }
}

function digestOf(manifest: Uint8Array, algorithm: string): string | undefined {
  if (algorithm !== 'sha256' && algorithm !== 'sha512') return undefined;
  return `${algorithm}:${createHash(algorithm).update(manifest).digest('hex')}`;
}

function rejected(url: string, message: string, cause?: unknown): AgentError {
  return new AgentError({
    code: 'image.signature-invalid',
    message,
    subject: url,
    hint: 'The signature is damaged, forged or made by a key this rule does not trust',
    cause,
  });
}

/**
 * Verifies one signature (`url` names it) against `keys`, then parses its payload and checks
 * that it signs `manifest`. Resolves with the signer and the payload; rejects with an AgentError.
 */
export async function verifySignature(signature: Uint8Array, url: string, keys: PublicKey[], manifest: Uint8Array): Promise<VerifiedSignature> {
  const openpgp = await import('openpgp');
  let message;
  try {
    const text = Buffer.from(signature).toString('latin1');
    message = text.startsWith('-----BEGIN PGP MESSAGE-----')
      ? await openpgp.readMessage({ armoredMessage: text })
      : await openpgp.readMessage({ binaryMessage: signature });
  } catch (e) {
    throw rejected(url, 'not an OpenPGP signed message', e);
  }
  let payload: Uint8Array;
  let fingerprint: string;
  try {
    const result = await openpgp.verify({ message, verificationKeys: keys, expectSigned: true, format: 'binary' });
    if (result.signatures.length !== 1) throw new Error(`${result.signatures.length} signatures in one message`);
    const [sig] = result.signatures;
    await sig!.verified;
    const signer = keys.find((k) => k.getKeys(sig!.keyID).length > 0);
    if (!signer) throw new Error('no trusted key made it');
    payload = result.data as Uint8Array;
    fingerprint = signer.getFingerprint().toLowerCase();
  } catch (e) {
    throw rejected(url, `the signature does not verify with the rule's keys (${(e as Error).message})`, e);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(payload);
  } catch (e) {
    throw rejected(url, 'the signed payload is not UTF-8 text', e);
  }
  const parsed = parseSignaturePayload(text, url);
  const fetched = digestOf(manifest, parsed.manifestDigest.split(':')[0]!);
  checkSignedDigest(parsed, fetched ?? 'unsupported-algorithm', url);
  return { ...parsed, fingerprint };
}

/** The digest of manifest bytes, `sha256:HEX`. */
export function manifestDigest(manifest: Uint8Array): string {
  return digestOf(manifest, 'sha256')!;
}

/**
 * Signs `manifest` for `dockerReference` (e.g. `quay.io/org/app:1.0`) with a v4 private key
 * (decrypted): a binary OpenPGP signed message, the form skopeo writes and reads.
 */
export async function signManifest(manifest: Uint8Array, dockerReference: string, privateKey: PrivateKey, creator = 'host-agent'): Promise<Uint8Array> {
  if (privateKey.keyPacket.version !== 4) {
    throw new AgentError({
      code: 'image.sign-key',
      message: `a v${privateKey.keyPacket.version} key; container signatures are made with v4 keys`,
      hint: 'Make a v4 key, e.g. gpg --quick-gen-key "Me <me@example.com>" ed25519 sign never',
    });
  }
  const openpgp = await import('openpgp');
  const payload = buildSignaturePayload({
    manifestDigest: manifestDigest(manifest),
    dockerReference,
    creator,
    timestamp: Math.floor(Date.now() / 1000),
  });
  const message = await openpgp.createMessage({ binary: new TextEncoder().encode(payload) });
  return (await openpgp.sign({ message, signingKeys: privateKey, format: 'binary' })) as Uint8Array;
}
