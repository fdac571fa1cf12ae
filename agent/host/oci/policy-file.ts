/**
 * The policy file on disk for `agentctl trust set/show`: the edit is written atomically,
 * and signedBy keys are copied into `policy-keys/` next to the policy file (named by the
 * first key's fingerprint), so the rule does not depend on where the key file was.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { AgentError } from '../../core/errors.js';
import { parsePolicy, type Policy } from '../../core/oci/policy.js';
import { setTrust, type TrustType } from '../../core/oci/policy-edit.js';
import { writeFileAtomic } from '../fs/atomic.js';
import { readPublicKeys } from './simple-signing.js';

async function readOptional(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new AgentError({ code: 'image.no-policy', message: `cannot read the policy (${(e as NodeJS.ErrnoException).code})`, subject: file, hint: 'Run as root, or give --policy FILE', cause: e });
  }
}

/** The parsed policy, or undefined when there is no file. */
export async function readPolicyFile(file: string): Promise<Policy | undefined> {
  const text = await readOptional(file);
  return text === undefined ? undefined : parsePolicy(text, file);
}

export interface TrustSet {
  /** The key files as copied next to the policy, with their fingerprints. */
  keys: { path: string; fingerprints: string[] }[];
}

/** Sets `scope` of the policy `file` to `type`, copying `keyFiles` next to it. */
export async function setPolicyTrust(file: string, scope: string, type: TrustType, keyFiles: string[]): Promise<TrustSet> {
  const current = await readOptional(file);
  const keys: TrustSet['keys'] = [];
  for (const keyFile of keyFiles) {
    const data = await readFile(keyFile).catch((e: unknown) => {
      throw new AgentError({ code: 'trust.key-unreadable', message: `cannot read the key file (${(e as NodeJS.ErrnoException).code})`, subject: keyFile, hint: 'Give the path of a public key file (gpg --export FINGERPRINT > key.gpg)', cause: e });
    });
    const parsed = await readPublicKeys(data, keyFile);
    const fingerprints = parsed.map((k) => k.getFingerprint().toLowerCase());
    keys.push({ path: join(dirname(file), 'policy-keys', `${fingerprints[0]}.gpg`), fingerprints });
  }
  // Validate the whole edit before anything is written.
  const text = setTrust(current, file, scope, type, keys.map((k) => k.path));
  for (const [i, key] of keys.entries()) await writeFileAtomic(key.path, await readFile(keyFiles[i]!), { mkdirs: true });
  await writeFileAtomic(file, text, { mkdirs: true });
  return { keys };
}
