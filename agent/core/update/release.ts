/**
 * The update channel's release manifest (`<server>/<group>/release.json`) and the decision
 * whether to take it. The manifest's `size` and `sha512` describe the USR image as it lands
 * in the slot (after decompression), so the slot can be checked against them later.
 */
import { AgentError } from '../errors.js';
import { compareSemVer, parseSemVer } from './version.js';

export const COMPRESSIONS = ['none', 'gzip', 'xz'] as const;
export type Compression = (typeof COMPRESSIONS)[number];

export interface Release {
  version: string;
  payload: {
    /** Absolute http(s) URL, or relative to the manifest's URL. */
    url: string;
    /** Bytes of the image written to the slot (uncompressed). */
    size: number;
    /** Lower-case hex sha512 of those bytes. */
    sha512: string;
    compression: Compression;
  };
}

function bad(subject: string, message: string): AgentError {
  return new AgentError({
    code: 'update.bad-manifest',
    message,
    subject,
    hint: 'Publish a release.json with version (semver), payload.url, payload.size, payload.sha512 and payload.compression (none, gzip or xz)',
  });
}

/** Validate the parsed JSON of a manifest read from `subject` (its URL). */
export function parseRelease(json: unknown, subject: string): Release {
  if (typeof json !== 'object' || json === null) throw bad(subject, 'the manifest is not a JSON object');
  const { version, payload } = json as Record<string, unknown>;
  if (typeof version !== 'string' || !parseSemVer(version)) throw bad(subject, `version ${JSON.stringify(version)} is not a semantic version`);
  if (typeof payload !== 'object' || payload === null) throw bad(subject, 'payload is missing');
  const { url, size, sha512, compression = 'none' } = payload as Record<string, unknown>;
  if (typeof url !== 'string' || url === '') throw bad(subject, 'payload.url is missing');
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size <= 0) throw bad(subject, `payload.size ${JSON.stringify(size)} is not a positive integer`);
  if (typeof sha512 !== 'string' || !/^[0-9a-fA-F]{128}$/.test(sha512)) throw bad(subject, 'payload.sha512 is not 128 hex digits');
  if (!COMPRESSIONS.includes(compression as Compression)) throw bad(subject, `payload.compression ${JSON.stringify(compression)} is not one of ${COMPRESSIONS.join(', ')}`);
  return { version, payload: { url, size, sha512: sha512.toLowerCase(), compression: compression as Compression } };
}

export interface TakePolicy {
  /** The version now running. */
  current: string;
  /** Versions that failed their health check on this host; never taken again. */
  failed: readonly string[];
  /** Take any version that differs from the current one, also an older one. */
  allowDowngrade?: boolean;
}

export type TakeDecision = { take: true } | { take: false; reason: 'not-newer' | 'same' | 'failed-before' };

/** Whether `release` should be installed under `policy`. */
export function decideRelease(release: Release, policy: TakePolicy): TakeDecision {
  if (policy.failed.includes(release.version)) return { take: false, reason: 'failed-before' };
  const offered = parseSemVer(release.version)!;
  const current = parseSemVer(policy.current);
  const order = current ? compareSemVer(offered, current) : 1;
  if (order === 0) return { take: false, reason: 'same' };
  if (order < 0 && !policy.allowDowngrade) return { take: false, reason: 'not-newer' };
  return { take: true };
}
