/**
 * The update channels. `UpdateChannel` is what the engine asks (check) and tells (every
 * state change, the written payload before it may boot); this module's release.json channel
 * fetches `<server>/<group>/release.json` and its detached signature
 * `release.json.asc`, has the signature checked by the injected verifier (the trust module
 * decides which keys count), validates the manifest, refuses an expired one and decides
 * whether to take it.
 */
import type { Readable } from 'node:stream';
import { AgentError } from '../../core/errors.js';
import type { UpdateState } from '../../core/update/machine.js';
import { assertNotExpired, decideRelease, parseRelease, type Release, type TakeDecision } from '../../core/update/release.js';
import { expectOk, httpGet, readBody, type HttpOptions } from '../net/http.js';

/** Checks a detached armored OpenPGP signature over `data`; rejects when bad or untrusted. */
export type VerifySignature = (data: Uint8Array, armoredSignature: string) => Promise<{ fingerprint: string }>;

export interface ChannelOptions {
  /** Base URL of the update server, e.g. https://updates.example.com/v1 */
  server: string;
  /** Release group (channel), e.g. stable. */
  group: string;
  verifySignature: VerifySignature;
  http?: HttpOptions;
  /** Clock (ms since the epoch) for the release's expiry; default Date.now. */
  now?: () => number;
}

const MANIFEST_LIMIT = 64 * 1024;

/** The whole (small) body of `url`; update servers may be plain http (manifests are signed). */
export async function getSmall(url: string, what: string, options: HttpOptions | undefined): Promise<Buffer> {
  const res = await httpGet(url, { ...options, allowHttp: true, errors: 'update' });
  expectOk(res, what, '');
  return readBody(res, MANIFEST_LIMIT);
}

export function manifestUrl(options: Pick<ChannelOptions, 'server' | 'group'>): string {
  return `${options.server.replace(/\/+$/, '')}/${encodeURIComponent(options.group)}/release.json`;
}

export interface SignedRelease {
  release: Release;
  /** The payload URL, made absolute against the manifest's URL. */
  payloadUrl: string;
  /** Fingerprint of the key that signed the manifest. */
  signedBy: string;
}

/** Fetch and verify the channel's current release (whatever its version). */
export async function fetchRelease(options: ChannelOptions): Promise<SignedRelease> {
  const url = manifestUrl(options);
  const [data, signature] = await Promise.all([
    getSmall(url, 'release manifest', options.http),
    getSmall(`${url}.asc`, 'release manifest signature', options.http),
  ]);
  let signedBy: string;
  try {
    ({ fingerprint: signedBy } = await options.verifySignature(data, signature.toString('utf8')));
  } catch (e) {
    throw new AgentError({
      code: 'update.bad-signature',
      message: `the release manifest's signature does not verify against the update keyring: ${e instanceof Error ? e.message : String(e)}`,
      subject: url,
      hint: 'Check that release.json.asc was made by a key in the update keyring (trustedkeys) and that release.json was not changed after signing',
      cause: e,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(data.toString('utf8'));
  } catch (e) {
    throw new AgentError({ code: 'update.bad-manifest', message: 'release.json is not valid JSON', subject: url, hint: 'Publish a valid release.json', cause: e });
  }
  const release = parseRelease(json, url);
  assertNotExpired(release, (options.now ?? Date.now)(), url);
  return { release, payloadUrl: new URL(release.payload.url, url).href, signedBy };
}

export type ChannelAnswer =
  | { available: SignedRelease }
  /** Offered, but not for this host (older, the same, failed here before). */
  | { available: undefined; offered: SignedRelease; decision: Exclude<TakeDecision, { take: true }> }
  /** The server offers nothing now (an Omaha `noupdate` or refusal). */
  | { available: undefined; offered: undefined };

/** What a check is asked with. */
export interface ChannelQuery {
  currentVersion: string;
  failedVersions: readonly string[];
  allowDowngrade?: boolean;
  http?: HttpOptions;
  now: () => number;
}

/** Checks a detached armored signature over a stream (an OS payload); rejects when bad or untrusted. */
export type VerifyStream = (data: Readable, armoredSignature: string) => Promise<{ fingerprint: string }>;

/** A source of releases the engine can install. */
export interface UpdateChannel {
  check(query: ChannelQuery): Promise<ChannelAnswer>;
  /** Told of every state change of the engine, in order (the Omaha channel reports events). */
  observe?(prev: UpdateState, next: UpdateState): void;
  /**
   * Checks the payload as it was written to the slot (`read` streams those bytes) before the
   * slot may boot; a rejection leaves it unbootable. Absent: the signed manifest's hash suffices.
   */
  verifyWritten?(signed: SignedRelease, read: Readable, http: HttpOptions | undefined): Promise<void>;
}

/** Decide whether `offered` is an update for the host of `query`. */
export function decideOffer(offered: SignedRelease, query: ChannelQuery): ChannelAnswer {
  const decision = decideRelease(offered.release, {
    current: query.currentVersion,
    failed: query.failedVersions,
    allowDowngrade: query.allowDowngrade,
  });
  return decision.take ? { available: offered } : { available: undefined, offered, decision };
}

/** The signed release.json channel of `options.server` and `options.group`. */
export function releaseChannel(options: Omit<ChannelOptions, 'http' | 'now'>): UpdateChannel {
  return {
    check: async (query) => decideOffer(await fetchRelease({ ...options, http: query.http, now: query.now }), query),
  };
}
