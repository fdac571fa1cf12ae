/**
 * The signature check the agent injects into the update channel, done here with openpgp
 * directly against keys made by real gpg (agent/host/trust does this in the daemon).
 * Rejects unless the detached signature is valid and made by one of `trustedKeys`.
 */
import * as openpgp from 'openpgp';
import type { VerifySignature } from '../../../../agent/host/update/channel.js';

export async function makeVerifier(trustedKeys: string[]): Promise<VerifySignature> {
  const keys = await Promise.all(trustedKeys.map((armoredKey) => openpgp.readKey({ armoredKey })));
  return async (data, armoredSignature) => {
    const signature = await openpgp.readSignature({ armoredSignature });
    const message = await openpgp.createMessage({ binary: data });
    const { signatures } = await openpgp.verify({ message, signature, verificationKeys: keys });
    for (const s of signatures) {
      await s.verified; // throws for a bad signature or an unknown key
      const key = keys.find((k) => k.getKeys(s.keyID).length > 0);
      if (key) return { fingerprint: key.getFingerprint() };
    }
    throw new Error('the signature is not made by a trusted key');
  };
}
