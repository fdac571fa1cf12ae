/**
 * The trust decision for one image from a registry, as containers/image's
 * IsRunningImageAllowed takes it: read the policy file (none at all: refused unless the
 * caller passes `insecure`, i.e. `--insecure-options=image`), choose the rule for the
 * reference, and require every requirement of it to accept: `insecureAcceptAnything`
 * accepts, `reject` refuses, `signedBy` accepts when at least one signature from the
 * lookaside store (registries.d) verifies with one of its keys, signs this manifest and
 * names an identity the rule accepts. Refusals are AgentErrors naming the registry,
 * repository, the scope that decided and what to do.
 */
import { readFile } from 'node:fs/promises';
import type { PublicKey } from 'openpgp';
import { AgentError, describeError } from '../../core/errors.js';
import { formatReference, type DockerReference } from '../../core/oci/reference.js';
import { chooseRule, identityMatches, parsePolicy, type Requirement } from '../../core/oci/policy.js';
import { lookasideBase } from '../../core/oci/registries-d.js';
import type { HttpOptions } from '../net/http.js';
import { fetchSignatures, type FetchedSignature } from './lookaside.js';
import { DEFAULT_REGISTRIES_D, readRegistriesD } from './registries-d-reader.js';
import { manifestDigest, readPublicKeys, verifySignature } from './simple-signing.js';

export const DEFAULT_POLICY_FILE = '/etc/host-agent/policy.json';

export interface PolicyCheckInput {
  ref: DockerReference;
  /** The manifest bytes exactly as fetched. */
  manifest: Uint8Array;
  /** Their digest as the fetcher computed it (`sha256:HEX`); checked again here. */
  digest: string;
  /** Default /etc/host-agent/policy.json. */
  policyFile?: string;
  /** Default /etc/host-agent/registries.d. */
  registriesDir?: string;
  /** `--insecure-options=image`: without any policy file, accept without checking. */
  insecure?: boolean;
  /** Deadlines and cancellation of lookaside downloads. */
  http?: HttpOptions;
}

export interface PolicyDecision {
  /** The policy scope that decided (`transports.docker["quay.io"]`, `default`), or `insecure` without a policy. */
  scope: string;
  /** Fingerprints of the keys whose signatures were accepted (empty when none were required). */
  signers: string[];
}

function describeImage(ref: DockerReference): string {
  return `image ${ref.repository} from registry ${ref.registry}`;
}

async function readPolicyText(file: string, insecure: boolean, ref: DockerReference): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new AgentError({ code: 'image.no-policy', message: `cannot read the policy (${(e as NodeJS.ErrnoException).code})`, subject: file, hint: 'Make the file readable by agentd', cause: e });
    if (insecure) return undefined;
    throw new AgentError({
      code: 'image.no-policy',
      message: `no policy file, so ${describeImage(ref)} cannot be verified`,
      subject: file,
      hint: `Trust its publisher with \`agentctl trust set --type signedBy --pubkeysfile KEY ${ref.registry}/${ref.repository}\`, or fetch with --insecure-options=image to skip verification`,
    });
  }
}

async function keysOf(requirement: Extract<Requirement, { type: 'signedBy' }>, policyFile: string): Promise<PublicKey[]> {
  if ('data' in requirement.keys) return readPublicKeys(Buffer.from(requirement.keys.data, 'base64'), `${policyFile} (keyData)`);
  const keys: PublicKey[] = [];
  for (const path of requirement.keys.paths) {
    const data = await readFile(path).catch((e: unknown) => {
      throw new AgentError({ code: 'image.policy-key-invalid', message: `cannot read the key file (${(e as NodeJS.ErrnoException).code})`, subject: path, hint: `Fix keyPath/keyPaths in ${policyFile}`, cause: e });
    });
    keys.push(...(await readPublicKeys(data, path)));
  }
  return keys;
}

/** Accepts the image (resolves with the scope and signers) or throws why not. */
export async function checkImagePolicy(input: PolicyCheckInput): Promise<PolicyDecision> {
  const { ref, manifest } = input;
  const policyFile = input.policyFile ?? DEFAULT_POLICY_FILE;
  const text = await readPolicyText(policyFile, input.insecure === true, ref);
  if (text === undefined) return { scope: 'insecure', signers: [] };
  const rule = chooseRule(parsePolicy(text, policyFile), ref);
  const actual = manifestDigest(manifest);
  if (actual !== input.digest) {
    throw new AgentError({ code: 'image.digest-mismatch', message: `the manifest's bytes hash to ${actual}, not ${input.digest}`, subject: formatReference(ref), hint: 'Fetch the image again' });
  }

  let signatures: FetchedSignature[] | undefined;
  const signers = new Set<string>();
  for (const requirement of rule.requirements) {
    if (requirement.type === 'insecureAcceptAnything') continue;
    if (requirement.type === 'reject') {
      throw new AgentError({
        code: 'image.rejected',
        message: `${describeImage(ref)} is rejected by the policy rule ${rule.scope}`,
        subject: policyFile,
        hint: `Add a rule for ${ref.registry}/${ref.repository} (agentctl trust set --type signedBy --pubkeysfile KEY ${ref.registry}/${ref.repository})`,
      });
    }
    if (signatures === undefined) {
      const base = lookasideBase(await readRegistriesD(input.registriesDir ?? DEFAULT_REGISTRIES_D), ref);
      signatures = base === undefined ? [] : await fetchSignatures(base, ref, input.digest, input.http);
    }
    const keys = await keysOf(requirement, policyFile);
    const reasons: string[] = [];
    let accepted: string | undefined;
    for (const signature of signatures) {
      try {
        const verified = await verifySignature(signature.bytes, signature.url, keys, manifest);
        if (identityMatches(requirement.signedIdentity, ref, verified.dockerReference)) {
          accepted = verified.fingerprint;
          break;
        }
        reasons.push(`${signature.url}: signed for ${verified.dockerReference}, which ${requirement.signedIdentity.type} does not accept for ${formatReference(ref)}`);
      } catch (e) {
        reasons.push(describeError(e));
      }
    }
    if (accepted === undefined) {
      throw new AgentError({
        code: 'image.untrusted',
        message:
          signatures.length === 0
            ? `${describeImage(ref)} has no signature, and the policy rule ${rule.scope} requires one`
            : `no signature of ${describeImage(ref)} satisfies the policy rule ${rule.scope}: ${reasons.join('; ')}`,
        subject: policyFile,
        hint:
          signatures.length === 0
            ? `Check the lookaside URL for ${ref.registry} in the registries.d directory, or ask the publisher to sign ${formatReference(ref)} (skopeo copy --sign-by)`
            : `Trust the key that signed it for this scope (agentctl trust set --type signedBy --pubkeysfile KEY ${ref.registry}/${ref.repository}) only if you trust the publisher`,
      });
    }
    signers.add(accepted);
  }
  return { scope: rule.scope, signers: [...signers] };
}
