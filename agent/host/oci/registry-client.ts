/**
 * A client of the distribution spec (OCI and Docker registries) on the project's HTTP client,
 * so with its deadlines, minimum rate and cancellation:
 *   - `GET /v2/` once per registry learns how it authenticates: nothing, Basic (credentials
 *     from the auth file) or a bearer token (`WWW-Authenticate: Bearer realm,service,scope`
 *     → GET the realm with service and `repository:REPO:pull`, with Basic credentials when
 *     the auth file has some → `token`/`access_token`); a 401 later asks for a new token once;
 *   - manifests are asked for with `Accept` listing the OCI index and manifest and Docker's
 *     v2s2 and manifest list, and each is checked against the digest asked for (a tag's
 *     digest is computed and returned); an index yields the manifest of the wanted platform,
 *     fetched by its digest and checked;
 *   - blobs stream through a digest and size check, which fails the stream, before its end,
 *     when the bytes differ; a fetch can start at an offset (`Range: bytes=N-`) with the hash
 *     of the bytes before it; `downloadBlob` resumes an interrupted download into a
 *     partial file, `resumableBlob` a stream (the layer extractor's) from the bytes it has
 *     delivered.
 * Plain http is spoken to loopback registries and, with `insecureHttp`
 * (`--insecure-options=http`), to any; https otherwise. Errors name the registry and
 * repository and say what to do.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rm, stat, truncate } from 'node:fs/promises';
import { PassThrough, Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AgentError, isAgentError } from '../../core/errors.js';
import { parseChallenges, type Challenge } from '../../core/oci/challenge.js';
import {
  MANIFEST_ACCEPT, layersToFetch, parseImageConfig, parseManifest,
  type Descriptor, type ImageConfig, type LayerToFetch, type OciIndex, type OciManifest,
} from '../../core/oci/manifest.js';
import { choosePlatform, nodePlatform, type Platform } from '../../core/oci/platform.js';
import { DOCKER_HUB, formatReference, repositoryName, type DockerReference } from '../../core/oci/reference.js';
import { bodyMeter, expectOk, httpGet, readBody, type GetOptions, type HttpOptions, type HttpResponse } from '../net/http.js';
import { credentialsFor, type Credentials } from './auth-file.js';

export interface RegistryClientOptions {
  /** Deadlines, CA, connect overrides for every request. */
  http?: Omit<HttpOptions, 'allowHttp' | 'errors' | 'signal'>;
  /** Plain http to every registry (`--insecure-options=http`); loopback registries always get http. */
  insecureHttp?: boolean;
  /** A containers-auth.json file; absent or missing: no credentials. */
  authFile?: string;
  /** The platform chosen from an index; default this host's (linux and Node's architecture). */
  platform?: Platform;
}

/** Cancels the requests of one call. */
export interface CallOptions {
  signal?: AbortSignal;
}

export interface FetchedManifest {
  /** `sha256:<hex>` of `bytes`; for a by-digest fetch, the digest asked for. */
  digest: string;
  bytes: Buffer;
  document: OciIndex | OciManifest;
}

export interface ResolvedImage {
  reference: DockerReference;
  /** The manifest the reference names: an index, or the image manifest itself. */
  top: FetchedManifest;
  /** The image manifest (the platform's, for an index), its digest checked. */
  manifest: FetchedManifest & { document: OciManifest };
  config: ImageConfig;
  configBytes: Buffer;
  /** The layers to fetch, bottom first. */
  layers: LayerToFetch[];
}

export interface BlobOptions extends CallOptions {
  /** Start at this byte (`Range: bytes=N-`); `hash` must then hold the bytes before it. */
  offset?: number;
  /** A hash (the digest's algorithm) already fed with the first `offset` bytes of the blob. */
  hash?: Hash;
  /** Bytes received in this request, and the blob's size. */
  onProgress?: (done: number, total: number) => void;
}

export interface DownloadOptions extends CallOptions {
  /** Connections tried in all when one breaks mid-blob (truncated, stalled). Default 3. */
  attempts?: number;
  /** Bytes in the file, and the blob's size. */
  onProgress?: (done: number, total: number) => void;
}

const MAX_MANIFEST_BYTES = 4 << 20;
const MAX_CONFIG_BYTES = 4 << 20;
const MAX_TOKEN_BYTES = 1 << 20;
/** Failures worth another connection: the bytes so far are good. */
const RESUMABLE = new Set(['image.download-truncated', 'image.download-stalled', 'image.download-failed', 'image.download-too-slow']);

interface Session {
  base: string;
  allowHttp: boolean;
  challenge: Challenge | undefined;
}

/** Host names always spoken to over plain http: they cannot be intercepted off the machine. */
function isLoopback(registry: string): boolean {
  const host = registry.replace(/:[0-9]+$/, '');
  return host === 'localhost' || host === '127.0.0.1' || host === '[::1]';
}

/** Docker Hub's API host. */
function apiHost(registry: string): string {
  return registry === DOCKER_HUB ? 'registry-1.docker.io' : registry;
}

function hashOf(digest: string): Hash {
  return createHash(digest.slice(0, digest.indexOf(':')));
}

function digestOf(hash: Hash, digest: string): string {
  return `${digest.slice(0, digest.indexOf(':'))}:${hash.digest('hex')}`;
}

/** `docker://HOST/REPO[:TAG|@DIGEST]`, the subject of errors about `ref`. */
function subjectOf(ref: DockerReference): string {
  return formatReference(ref, { transport: true });
}

function digestMismatch(ref: DockerReference, what: string, wanted: string, got: string): AgentError {
  return new AgentError({
    code: 'image.digest-mismatch',
    message: `the ${what} from ${ref.registry} (repository ${ref.repository}) has digest ${got}, not ${wanted}`,
    subject: subjectOf(ref),
    hint: 'The registry or something between it and this host changed the data; nothing was stored. Tell the registry\'s operator',
  });
}

/** The first error of a distribution error body, as `CODE: message`, or ''. */
async function registryErrorText(res: HttpResponse): Promise<string> {
  try {
    const body = JSON.parse((await readBody(res, 64 * 1024)).toString('utf8')) as { errors?: Array<{ code?: unknown; message?: unknown }> };
    const first = body.errors?.[0];
    return first ? `: ${String(first.code ?? '')} ${String(first.message ?? '')}`.trimEnd() : '';
  } catch {
    return '';
  }
}

/** Fails the stream when its bytes do not hash to `digest` or are not `size` long. */
function verifier(ref: DockerReference, descriptor: Descriptor, hash: Hash, offset: number): Transform {
  let seen = offset;
  return new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      seen += chunk.length;
      if (seen > descriptor.size) {
        cb(new AgentError({
          code: 'image.digest-mismatch',
          message: `the blob ${descriptor.digest} from ${ref.registry} (repository ${ref.repository}) is longer than the ${descriptor.size} bytes its manifest gives`,
          subject: subjectOf(ref),
          hint: 'The registry served other data than the manifest names; nothing was stored. Tell the registry\'s operator',
        }));
        return;
      }
      hash.update(chunk);
      cb(null, chunk);
    },
    flush(cb: TransformCallback) {
      const got = digestOf(hash, descriptor.digest);
      if (seen !== descriptor.size) {
        cb(new AgentError({
          code: 'image.digest-mismatch',
          message: `the blob ${descriptor.digest} from ${ref.registry} (repository ${ref.repository}) has ${seen} bytes, not the ${descriptor.size} its manifest gives`,
          subject: subjectOf(ref),
          hint: 'The registry served other data than the manifest names; nothing was stored. Tell the registry\'s operator',
        }));
      } else if (got !== descriptor.digest) {
        cb(digestMismatch(ref, `blob ${descriptor.digest}`, descriptor.digest, got));
      } else {
        cb();
      }
    },
  });
}

/** Drops the first `n` bytes (a server that answered a range request with the whole blob). */
function skipper(n: number): Transform {
  let left = n;
  return new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      if (left >= chunk.length) {
        left -= chunk.length;
        cb();
        return;
      }
      const rest = chunk.subarray(left);
      left = 0;
      cb(null, rest);
    },
  });
}

/** `a` piped into `b`, an error of either ending `b`, closing `b` closing `a`. */
function chain(a: Readable, b: Transform): Transform {
  a.on('error', (e) => b.destroy(e));
  b.on('close', () => {
    if (!a.readableEnded) a.destroy();
  });
  return a.pipe(b);
}

/** Feeds the first `bytes` bytes of `file` to a new hash for `digest`. */
async function hashPrefix(file: string, bytes: number, digest: string): Promise<Hash> {
  const hash = hashOf(digest);
  if (bytes === 0) return hash;
  for await (const chunk of createReadStream(file, { start: 0, end: bytes - 1 })) hash.update(chunk as Buffer);
  return hash;
}

async function sizeOf(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw e;
  }
}

export class RegistryClient {
  private readonly sessions = new Map<string, Promise<Session>>();
  /** Authorization header values by `REGISTRY/REPO`. */
  private readonly authorizations = new Map<string, string>();
  private readonly platform: Platform;

  constructor(private readonly options: RegistryClientOptions = {}) {
    this.platform = options.platform ?? nodePlatform(process.arch, (process.config.variables as { arm_version?: string }).arm_version);
  }

  /** The manifest `ref` names (by digest, else by tag), checked against the digest asked for. */
  async manifest(ref: DockerReference, options: CallOptions = {}): Promise<FetchedManifest> {
    const wanted = ref.digest ?? ref.tag ?? 'latest';
    const res = await this.request(ref, `manifests/${wanted}`, { headers: { accept: MANIFEST_ACCEPT.join(', ') }, signal: options.signal });
    await this.expectFound(res, ref, 'manifest');
    const bytes = await readBody(res, MAX_MANIFEST_BYTES);
    const algorithm = ref.digest ? ref.digest.slice(0, ref.digest.indexOf(':')) : 'sha256';
    const digest = `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
    if (ref.digest && digest !== ref.digest) throw digestMismatch(ref, 'manifest', ref.digest, digest);
    const contentType = res.body.headers['content-type'];
    return { digest, bytes, document: parseManifest(bytes.toString('utf8'), contentType, subjectOf(ref)) };
  }

  /**
   * The image `ref` names for this client's platform: its manifest (through the index when
   * the reference names one), config and layers, each checked against its digest.
   */
  async resolve(ref: DockerReference, options: CallOptions = {}): Promise<ResolvedImage> {
    return this.resolveFrom(ref, await this.manifest(ref, options), options);
  }

  /**
   * As `resolve`, from the manifest `top` the reference names, fetched already (so its
   * digest can be checked against the policy before anything else is fetched).
   */
  async resolveFrom(ref: DockerReference, top: FetchedManifest, options: CallOptions = {}): Promise<ResolvedImage> {
    let manifest = top;
    if (top.document.kind === 'index') {
      const entry = choosePlatform(top.document.manifests, this.platform, subjectOf(ref));
      manifest = await this.manifest({ registry: ref.registry, repository: ref.repository, digest: entry.digest }, options);
      if (manifest.document.kind !== 'manifest') {
        throw new AgentError({
          code: 'image.bad-manifest',
          message: `the index entry for ${entry.platform?.architecture ?? '?'} (${entry.digest}) is itself an index`,
          subject: subjectOf(ref),
          hint: 'Nested indexes are not supported: tell the image\'s publisher',
        });
      }
    }
    const document = manifest.document as OciManifest;
    const subject = subjectOf(ref);
    if (document.config.size > MAX_CONFIG_BYTES) {
      throw new AgentError({ code: 'image.bad-manifest', message: `config.size: ${document.config.size} bytes is more than an image config may have (${MAX_CONFIG_BYTES})`, subject, hint: 'Tell the image\'s publisher' });
    }
    const chunks: Buffer[] = [];
    for await (const chunk of await this.fetchBlob(ref, document.config, options)) chunks.push(chunk as Buffer);
    const configBytes = Buffer.concat(chunks);
    const config = parseImageConfig(configBytes.toString('utf8'), subject);
    return { reference: ref, top, manifest: { ...manifest, document }, config, configBytes, layers: layersToFetch(document, config, subject) };
  }

  /**
   * The digest of the manifest a tag names now (HEAD; GET when the registry sends no
   * `Docker-Content-Digest`), to see whether a tag moved. A fetch by this digest checks it.
   */
  async tagDigest(ref: DockerReference, options: CallOptions = {}): Promise<string> {
    const tag = { registry: ref.registry, repository: ref.repository, tag: ref.tag ?? 'latest' };
    const res = await this.request(tag, `manifests/${tag.tag}`, { method: 'HEAD', headers: { accept: MANIFEST_ACCEPT.join(', ') }, signal: options.signal });
    await this.expectFound(res, tag, 'manifest');
    res.body.resume();
    const header = res.body.headers['docker-content-digest'];
    if (typeof header === 'string' && /^sha256:[a-f0-9]{64}$/.test(header)) return header;
    return (await this.manifest(tag, options)).digest;
  }

  /**
   * The blob's bytes from `offset` on, as a stream that fails — before it ends — when the
   * whole blob (the bytes `hash` holds and these) is not `descriptor.size` bytes of
   * `descriptor.digest`.
   */
  async fetchBlob(ref: DockerReference, descriptor: Descriptor, options: BlobOptions = {}): Promise<Readable> {
    const offset = options.offset ?? 0;
    if (offset > 0 && !options.hash) throw new Error('fetchBlob: an offset needs the hash of the bytes before it');
    const res = await this.request(ref, `blobs/${descriptor.digest}`, { rangeStart: offset, signal: options.signal });
    await this.expectFound(res, ref, `blob ${descriptor.digest}`);
    let skip = 0;
    if (offset > 0 && res.status === 206) {
      const range = /^bytes ([0-9]+)-/.exec(String(res.body.headers['content-range'] ?? ''));
      if (!range || Number(range[1]) !== offset) {
        res.body.resume();
        throw new AgentError({
          code: 'image.download-failed',
          message: `the registry ${ref.registry} answered a request for the bytes from ${offset} on with another range (${String(res.body.headers['content-range'])})`,
          subject: subjectOf(ref),
          hint: 'Fetch again; the partial download is kept',
        });
      }
    } else if (offset > 0) {
      skip = offset;
    }
    const meter = bodyMeter(res, (done) => options.onProgress?.(offset + Math.max(0, done - skip), descriptor.size));
    const body = skip > 0 ? chain(meter, skipper(skip)) : meter;
    return chain(body, verifier(ref, descriptor, options.hash ?? hashOf(descriptor.digest), offset));
  }

  /**
   * Downloads a blob into `file`, resuming from the bytes already in it (a partial file from
   * an earlier attempt) and again when a connection breaks mid-blob. When the bytes do not
   * match the digest, the file is removed and the error thrown.
   */
  async downloadBlob(ref: DockerReference, descriptor: Descriptor, file: string, options: DownloadOptions = {}): Promise<void> {
    const attempts = options.attempts ?? 3;
    for (let attempt = 1; ; attempt++) {
      let offset = await sizeOf(file);
      if (offset > descriptor.size) {
        await truncate(file, 0);
        offset = 0;
      }
      try {
        const hash = await hashPrefix(file, offset, descriptor.digest);
        if (offset === descriptor.size) {
          const got = digestOf(hash, descriptor.digest);
          if (got !== descriptor.digest) throw digestMismatch(ref, `blob ${descriptor.digest}`, descriptor.digest, got);
          return;
        }
        const blob = await this.fetchBlob(ref, descriptor, { offset, hash, signal: options.signal, onProgress: options.onProgress });
        await pipeline(blob, createWriteStream(file, { flags: 'a', mode: 0o600 }));
        return;
      } catch (e) {
        if (isAgentError(e, 'image.digest-mismatch')) await rm(file, { force: true });
        if (!isAgentError(e) || !RESUMABLE.has(e.code) || attempt >= attempts || options.signal?.aborted) throw e;
      }
    }
  }

  /**
   * The whole blob as one stream, resumed with `Range` from the bytes already delivered when
   * a connection breaks mid-blob (truncated, stalled, too slow), up to `attempts`
   * connections: the consumer (the layer extractor) sees each byte once, and the digest is
   * checked over all of them before the stream ends.
   */
  resumableBlob(ref: DockerReference, descriptor: Descriptor, options: DownloadOptions = {}): Readable {
    const attempts = options.attempts ?? 3;
    const hash = hashOf(descriptor.digest);
    const out = new PassThrough();
    let delivered = 0;
    const writable = (): Promise<void> => new Promise((resolve) => {
      const done = (): void => {
        out.off('drain', done);
        out.off('close', done);
        resolve();
      };
      out.on('drain', done);
      out.on('close', done);
    });
    void (async () => {
      for (let attempt = 1; ; attempt++) {
        try {
          const blob = await this.fetchBlob(ref, descriptor, { offset: delivered, hash, signal: options.signal, onProgress: options.onProgress });
          for await (const chunk of blob as AsyncIterable<Buffer>) {
            if (out.destroyed) {
              blob.destroy();
              return;
            }
            delivered += chunk.length;
            if (!out.write(chunk)) await writable();
          }
          out.end();
          return;
        } catch (e) {
          if (out.destroyed) return;
          if (!isAgentError(e) || !RESUMABLE.has(e.code) || attempt >= attempts || options.signal?.aborted) {
            out.destroy(e as Error);
            return;
          }
        }
      }
    })();
    return out;
  }

  /** Throws the error for a missing or refused object; returns for 2xx. */
  private async expectFound(res: HttpResponse, ref: DockerReference, what: string): Promise<void> {
    if (res.status >= 200 && res.status < 300) return;
    const detail = await registryErrorText(res);
    const where = `${ref.registry} (repository ${ref.repository})`;
    if (res.status === 404) {
      throw new AgentError({
        code: 'image.not-found',
        message: `the registry ${where} has no ${what} ${what === 'manifest' ? (ref.digest ?? ref.tag) : ''}`.trimEnd() + detail,
        subject: subjectOf(ref),
        hint: `Check the repository name and the tag or digest (skopeo list-tags docker://${repositoryName(ref)} lists the tags)`,
      });
    }
    if (res.status === 401 || res.status === 403) throw this.authError(ref, `the registry ${where} refused access (HTTP ${res.status}${detail})`);
    expectOk(res, `${what} of ${repositoryName(ref)}${detail}`, '');
  }

  private authError(ref: DockerReference, message: string): AgentError {
    const file = this.options.authFile;
    return new AgentError({
      code: 'image.registry-auth',
      message,
      subject: subjectOf(ref),
      hint: file
        ? `Check the repository name, and the credentials for ${ref.registry} in the auth file ${file} (podman login --authfile ${file} ${ref.registry})`
        : `Check the repository name; a private repository needs credentials for ${ref.registry} in an auth file (containers-auth.json)`,
    });
  }

  private httpOptions(session: Session, extra: GetOptions): GetOptions {
    return { ...this.options.http, ...extra, allowHttp: session.allowHttp, errors: 'image' };
  }

  /** Learns the registry's scheme and challenge from `GET /v2/`, once per registry. */
  private session(ref: DockerReference, signal: AbortSignal | undefined): Promise<Session> {
    let session = this.sessions.get(ref.registry);
    if (!session) {
      session = this.ping(ref, signal);
      this.sessions.set(ref.registry, session);
      session.catch(() => this.sessions.delete(ref.registry));
    }
    return session;
  }

  private async ping(ref: DockerReference, signal: AbortSignal | undefined): Promise<Session> {
    const allowHttp = isLoopback(ref.registry) || this.options.insecureHttp === true;
    const base = `${allowHttp ? 'http' : 'https'}://${apiHost(ref.registry)}/v2/`;
    const session: Session = { base, allowHttp, challenge: undefined };
    const res = await httpGet(base, this.httpOptions(session, { signal }));
    res.body.resume();
    if (res.status === 401) {
      session.challenge = parseChallenges(res.body.headers['www-authenticate']).find((c) => c.scheme === 'bearer' || c.scheme === 'basic');
      if (!session.challenge) throw this.authError(ref, `the registry ${ref.registry} asks for an authentication scheme host-agent does not speak (${String(res.body.headers['www-authenticate'])})`);
    } else if (res.status !== 200) {
      throw new AgentError({
        code: 'image.not-a-registry',
        message: `${base} answered HTTP ${res.status}: this is not a registry (distribution API v2)`,
        subject: subjectOf(ref),
        hint: 'Check the registry host and port in the reference',
      });
    }
    return session;
  }

  private async credentials(ref: DockerReference): Promise<Credentials | undefined> {
    return this.options.authFile ? credentialsFor(this.options.authFile, ref) : undefined;
  }

  /** The Authorization header for `ref`'s repository under `challenge`; undefined without one. */
  private async authorize(ref: DockerReference, session: Session, challenge: Challenge | undefined, signal: AbortSignal | undefined): Promise<string | undefined> {
    if (!challenge) return undefined;
    const creds = await this.credentials(ref);
    const basic = creds && `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
    if (challenge.scheme === 'basic') {
      if (!basic) throw this.authError(ref, `the registry ${ref.registry} needs a user name and password`);
      return basic;
    }
    const realm = challenge.params.realm;
    if (!realm) throw this.authError(ref, `the registry ${ref.registry} asks for a bearer token but names no token server (realm)`);
    const url = new URL(realm);
    if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
    url.searchParams.set('scope', `repository:${ref.repository}:pull`);
    const res = await httpGet(url.href, this.httpOptions(session, { signal, headers: basic ? { authorization: basic } : {} }));
    if (res.status === 401 || res.status === 403) {
      res.body.resume();
      throw this.authError(ref, `the token server ${url.origin} refused ${creds ? `the credentials of ${creds.username}` : 'anonymous access'} for repository ${ref.repository} (HTTP ${res.status})`);
    }
    expectOk(res, 'token', '');
    let token: unknown;
    try {
      const body = JSON.parse((await readBody(res, MAX_TOKEN_BYTES)).toString('utf8')) as { token?: unknown; access_token?: unknown };
      token = body.token || body.access_token;
    } catch {
      token = undefined;
    }
    if (typeof token !== 'string' || token === '') throw this.authError(ref, `the token server ${url.origin} sent no token`);
    return `Bearer ${token}`;
  }

  /** A request to `/v2/REPO/PATH`, authorized as the registry asks, once more with a new token after a 401. */
  private async request(ref: DockerReference, path: string, extra: GetOptions): Promise<HttpResponse> {
    const session = await this.session(ref, extra.signal);
    const key = repositoryName(ref);
    const url = `${session.base}${ref.repository}/${path}`;
    let authorization = this.authorizations.get(key);
    for (let attempt = 1; ; attempt++) {
      if (authorization === undefined && session.challenge) {
        authorization = await this.authorize(ref, session, session.challenge, extra.signal);
        if (authorization) this.authorizations.set(key, authorization);
      }
      const headers = { ...extra.headers, ...(authorization && { authorization }) };
      const res = await httpGet(url, this.httpOptions(session, { ...extra, headers }));
      if (res.status !== 401 || attempt === 2) return res;
      res.body.resume();
      const challenge = parseChallenges(res.body.headers['www-authenticate']).find((c) => c.scheme === 'bearer' || c.scheme === 'basic');
      if (!challenge) return res;
      session.challenge = challenge;
      this.authorizations.delete(key);
      authorization = undefined;
    }
  }
}
