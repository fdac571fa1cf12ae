/**
 * The update channel's release manifest (`<server>/<group>/release.json`) and the decision
 * whether to take it. The manifest's `size` and `sha512` describe the USR image as it lands
 * in the slot (after decompression), so the slot can be checked against them later. Its
 * `expires` (RFC 3339, required) bounds how long a captured release can be replayed.
 * `payload.verity` (optional, ./verity.ts) carries the image's dm-verity root hash and layout.
 */
import { AgentError } from '../errors.js';
import { compareVersions, isVersion } from './version.js';
import { parseVerity, VerityFieldError, type Verity } from './verity.js';

export const COMPRESSIONS = ['none', 'gzip', 'xz'] as const;
export type Compression = (typeof COMPRESSIONS)[number];

export interface Release {
  /** Semantic, dotted or Debian-style version (agent/core/update/version.ts). */
  version: string;
  /** RFC 3339 time after which the release is refused (TUF's freeze and replay attacks). */
  expires: string;
  payload: {
    /** Absolute http(s) URL, or relative to the manifest's URL. */
    url: string;
    /** Bytes of the image written to the slot (uncompressed). */
    size: number;
    /** Lower-case hex sha512 of those bytes (always, in release.json). */
    sha512?: string;
    /** Lower-case hex sha256 of those bytes, for a release that names no sha512 (an Omaha offer). */
    sha256?: string;
    compression: Compression;
    /** dm-verity of the image (./verity.ts): the slot must verify against this signed root hash before it may boot. */
    verity?: Verity;
  };
}

function bad(subject: string, message: string): AgentError {
  return new AgentError({
    code: 'update.bad-manifest',
    message,
    subject,
    hint: 'Publish a release.json with version, expires (RFC 3339), payload.url, payload.size, payload.sha512 and payload.compression (none, gzip or xz)',
  });
}

/** Validate the parsed JSON of a manifest read from `subject` (its URL). */
export function parseRelease(json: unknown, subject: string): Release {
  if (typeof json !== 'object' || json === null) throw bad(subject, 'the manifest is not a JSON object');
  const { version, expires, payload } = json as Record<string, unknown>;
  if (typeof version !== 'string' || !isVersion(version)) throw bad(subject, `version ${JSON.stringify(version)} is not a version (it must start with a digit: 2.0.0, 12, 2.0, 1:2.0-3)`);
  if (typeof expires !== 'string' || parseTime(expires) === undefined) throw bad(subject, `expires ${JSON.stringify(expires)} is not an RFC 3339 time (e.g. 2027-01-31T00:00:00Z)`);
  if (typeof payload !== 'object' || payload === null) throw bad(subject, 'payload is missing');
  const { url, size, sha512, compression = 'none', verity } = payload as Record<string, unknown>;
  if (typeof url !== 'string' || url === '') throw bad(subject, 'payload.url is missing');
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size <= 0) throw bad(subject, `payload.size ${JSON.stringify(size)} is not a positive integer`);
  if (typeof sha512 !== 'string' || !/^[0-9a-fA-F]{128}$/.test(sha512)) throw bad(subject, 'payload.sha512 is not 128 hex digits');
  if (!COMPRESSIONS.includes(compression as Compression)) throw bad(subject, `payload.compression ${JSON.stringify(compression)} is not one of ${COMPRESSIONS.join(', ')}`);
  let checkedVerity: Verity | undefined;
  try {
    checkedVerity = verity === undefined ? undefined : parseVerity(verity, size);
  } catch (e) {
    if (e instanceof VerityFieldError) throw bad(subject, e.message);
    throw e;
  }
  return {
    version, expires,
    payload: { url, size, sha512: sha512.toLowerCase(), compression: compression as Compression, ...(checkedVerity && { verity: checkedVerity }) },
  };
}

/** The digest the staged image is checked against: the release's sha512, else its sha256. */
export function imageDigest(release: Release): { algorithm: 'sha512' | 'sha256'; hex: string } {
  const { sha512, sha256 } = release.payload;
  if (sha512 !== undefined) return { algorithm: 'sha512', hex: sha512 };
  if (sha256 !== undefined) return { algorithm: 'sha256', hex: sha256 };
  throw bad(release.payload.url, `the release ${release.version} names no digest of its payload`);
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$/;

/** Milliseconds since the epoch of an RFC 3339 time, or undefined when `text` is not one. */
function parseTime(text: string): number | undefined {
  if (!RFC3339.test(text)) return undefined;
  const [y, m, d] = text.slice(0, 10).split('-').map(Number) as [number, number, number];
  if (new Date(Date.UTC(y, m - 1, d)).getUTCDate() !== d) return undefined; // 2027-02-30
  const ms = Date.parse(text.toUpperCase().replace(' ', 'T'));
  return Number.isNaN(ms) ? undefined : ms;
}

/** Throws `update.expired` when `release` is past its `expires` at `now` (ms since the epoch). */
export function assertNotExpired(release: Release, now: number, subject: string): void {
  const expires = parseTime(release.expires);
  if (expires !== undefined && now < expires) return;
  throw new AgentError({
    code: 'update.expired',
    message: `the release ${release.version} expired at ${release.expires} (now ${new Date(now).toISOString()}); an expired release may be a replayed old one`,
    subject,
    hint: 'The update server must publish a freshly signed release.json with a later expires; if this host\'s clock is wrong, fix it (timedatectl)',
  });
}

export interface TakePolicy {
  /** The version now running. */
  current: string;
  /** Versions that failed their health check on this host; never taken again. */
  failed: readonly string[];
  /** Take an older version too (never the same one, never a failed one). */
  allowDowngrade?: boolean;
}

export type TakeDecision = { take: true } | { take: false; reason: 'not-newer' | 'same' | 'failed-before' };

/** Whether `release` should be installed under `policy`. */
export function decideRelease(release: Release, policy: TakePolicy): TakeDecision {
  if (policy.failed.some((v) => compareVersions(v, release.version) === 0)) return { take: false, reason: 'failed-before' };
  const order = compareVersions(release.version, policy.current);
  if (order === 0) return { take: false, reason: 'same' };
  if (order < 0 && !policy.allowDowngrade) return { take: false, reason: 'not-newer' };
  return { take: true };
}
