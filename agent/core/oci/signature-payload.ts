/**
 * The JSON payload of a containers "simple signing" signature (containers-signature(5)),
 * read as strictly as containers/image reads it: the top level has exactly `critical` and
 * `optional`; `critical` exactly `type` ("atomic container signature"), `image`
 * {`docker-manifest-digest`} and `identity` {`docker-reference`}; `optional` any object
 * (`creator` a string, `timestamp` an integer when present). Only ever called on bytes whose
 * OpenPGP signature has already been verified. Also builds a payload to sign. Pure: no I/O.
 */
import { AgentError } from '../errors.js';
import { exactObject, isObject, JsonPathError, parseStrictJson, stringAt } from './strict-json.js';

export const SIGNATURE_TYPE = 'atomic container signature';

export interface SignaturePayload {
  /** `ALGORITHM:HEX` of the manifest that was signed. */
  manifestDigest: string;
  /** The docker reference the signer vouches for, as written in the signature. */
  dockerReference: string;
  creator?: string;
  /** Seconds since the epoch. */
  timestamp?: number;
}

function invalid(message: string, subject: string, cause?: unknown): AgentError {
  return new AgentError({
    code: 'image.signature-invalid',
    message: `the signed payload is not a container signature: ${message}`,
    subject,
    hint: 'The signature was made by a trusted key but its content is not a containers simple-signing payload; ask the publisher to sign with skopeo (--sign-by) or podman',
    cause,
  });
}

/** Parses a verified payload (decoded as UTF-8); `subject` (the signature's URL) names it in errors. */
export function parseSignaturePayload(text: string, subject: string): SignaturePayload {
  try {
    const top = exactObject(parseStrictJson(text), '$', ['critical', 'optional']);
    const critical = exactObject(top.critical, 'critical', ['type', 'image', 'identity']);
    const type = stringAt(critical.type, 'critical.type');
    if (type !== SIGNATURE_TYPE) throw new JsonPathError('critical.type', `is ${JSON.stringify(type)}, not ${JSON.stringify(SIGNATURE_TYPE)}`);
    const image = exactObject(critical.image, 'critical.image', ['docker-manifest-digest']);
    const identity = exactObject(critical.identity, 'critical.identity', ['docker-reference']);
    const payload: SignaturePayload = {
      manifestDigest: stringAt(image['docker-manifest-digest'], 'critical.image.docker-manifest-digest'),
      dockerReference: stringAt(identity['docker-reference'], 'critical.identity.docker-reference'),
    };
    const optional = top.optional;
    if (!isObject(optional)) throw new JsonPathError('optional', 'must be a JSON object');
    if (optional.creator !== undefined) payload.creator = stringAt(optional.creator, 'optional.creator');
    if (optional.timestamp !== undefined) {
      const t = optional.timestamp;
      if (typeof t !== 'number' || !Number.isSafeInteger(t)) throw new JsonPathError('optional.timestamp', 'must be an integer');
      payload.timestamp = t;
    }
    return payload;
  } catch (e) {
    if (e instanceof JsonPathError) throw invalid(e.message, subject, e);
    throw e;
  }
}

/** Refuses a payload that signs another manifest than the one fetched (`ALGORITHM:HEX` of its bytes). */
export function checkSignedDigest(payload: SignaturePayload, fetchedDigest: string, subject: string): void {
  if (payload.manifestDigest !== fetchedDigest) {
    throw new AgentError({
      code: 'image.signature-mismatch',
      message: `the signature is for manifest ${payload.manifestDigest}, not for the manifest fetched (${fetchedDigest})`,
      subject,
      hint: 'The tag now names another manifest than the one signed, or the signature store is out of date: ask the publisher to sign this manifest',
    });
  }
}

/** The payload text (JSON) to sign for `manifestDigest` under `dockerReference`. */
export function buildSignaturePayload(payload: SignaturePayload): string {
  const json = {
    critical: {
      type: SIGNATURE_TYPE,
      image: { 'docker-manifest-digest': payload.manifestDigest },
      identity: { 'docker-reference': payload.dockerReference },
    },
    optional: {
      ...(payload.creator !== undefined && { creator: payload.creator }),
      ...(payload.timestamp !== undefined && { timestamp: payload.timestamp }),
    },
  };
  return JSON.stringify(json);
}
