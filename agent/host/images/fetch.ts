/**
 * Fetching an image into the store: by file path, by https URL, or by name through appc
 * meta discovery. The order is fixed and is the whole point: nothing that no trusted key
 * signed is ever decompressed.
 *   1. get the signature (`.aci.asc`) — a missing one fails before the image is downloaded;
 *   2. download the image to a temp file in the store (idle timeout, truncation check);
 *   3. verify the signature over the bytes as served, in time proportional to their
 *      (compressed) size, against every trusted key whatever its prefix, as the image's
 *      name is inside the archive (a download is verified while it streams in; whatever
 *      that cannot settle is verified again from the file, which gives the errors);
 *   4. only then decompress: read the manifest (nothing written) and check that its name
 *      and labels are the ones asked for;
 *   5. check that the signer's key is trusted for the manifest's name (its prefix);
 *   6. extract (layout and safety checks, limits on entries, unpacked size — by default the
 *      store's free space less a reserve — and metadata), hashing the uncompressed tar into
 *      the image ID, and move the tree into the store by one rename.
 * With --insecure-options=image steps 3 and 5 are skipped, with a warning.
 * A download whose URL served the same signature before is not downloaded again: that
 * signature was verified over the image then stored (./fetch-memo.ts), which is used when
 * its signer is still trusted for its name and it is the image asked for.
 * Every failure removes the temp files, so the store is left as it was. Streams only.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, readFile, rm, stat, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AgentError, describeError } from '../../core/errors.js';
import type { AppRef } from '../../core/appc/app-string.js';
import { DEFAULT_VERSION } from '../../core/appc/app-string.js';
import { isArchiveFormat, sniffFormat, SNIFF_BYTES } from '../../core/appc/compression.js';
import { discoverEndpoints } from '../../core/appc/discovery.js';
import { validateImageManifest, type ImageManifest } from '../../core/appc/manifest.js';
import { parseManifestText } from '../../core/appc/validate.js';
import type { Keystore } from '../trust/keystore.js';
import { untrustedSigner, verifyDetached } from '../trust/verify.js';
import { decompress, type ArchiveFormat } from '../stream/decompress.js';
import { DigestTap } from '../stream/digest-tap.js';
import { DEFAULT_EXTRACT_LIMITS, extractAci, type ExtractLimits } from './extract.js';
import { bodyMeter, expectOk, httpGet, pageGetter, readText, type HttpOptions } from '../net/http.js';
import { peekManifest } from './peek.js';
import { DOCKER_TRANSPORT, parseReference, type DockerReference } from '../../core/oci/reference.js';
import type { ImageInfo, ImageStore } from './store.js';
import { explainWriteError } from '../fs/disk-full.js';

export type InsecureOption = 'http' | 'image';

export type ImageSource =
  | { kind: 'file'; path: string }
  | { kind: 'url'; url: string }
  | { kind: 'name'; app: AppRef }
  | { kind: 'docker'; reference: DockerReference };

/** The sources this fetcher (ACIs) takes; `docker` ones go to ../oci/pull.ts. */
export type AppcSource = Exclude<ImageSource, { kind: 'docker' }>;

export interface FetchProgress {
  phase: 'download' | 'verify' | 'extract';
  done: number;
  total: number | undefined;
  /** OCI images: the layer (its short digest) the event is about; each layer has its own. */
  layer?: string;
}

export interface FetchOptions {
  store: ImageStore;
  keystore: Keystore;
  /** TLS, timeouts and connect overrides; `allowHttp` is taken from `insecureOptions`. */
  http?: Omit<HttpOptions, 'allowHttp'>;
  /** `http`: allow plain http; `image`: store without a verified signature (warns). */
  insecureOptions?: ReadonlySet<InsecureOption>;
  limits?: Partial<ExtractLimits>;
  /** Allow device nodes in the image's tree. */
  allowDevices?: boolean;
  /** Keep the archive's owners (default: when running as root). */
  keepOwnership?: boolean;
  /** A port for discovery URLs (tests on loopback). */
  discoveryPort?: number;
  onProgress?: (progress: FetchProgress) => void;
  onWarning?: (message: string) => void;
}

/** Where an image is and what it must be. */
interface Located {
  /** Path of the archive on disk (the source file, or our download). */
  archive: string;
  /** The armored signature, or undefined when fetching without verification. */
  signature: string | undefined;
  /** For messages and meta.json: the path or URL. */
  source: string;
  /** Our download, removed afterwards. */
  temp?: string;
  /** The signer's fingerprint when the signature was verified during the download. */
  early?: Promise<string | undefined>;
}

function signatureMissing(where: string, insecureHint: boolean): AgentError {
  return new AgentError({
    code: 'image.signature-missing',
    message: 'the image has no signature',
    subject: where,
    hint:
      'The publisher must publish a detached armored signature (`gpg --armor --detach-sign`) next to the image' +
      (insecureHint ? '; to store it unverified anyway, use --insecure-options=image' : ''),
  });
}

async function readLocalSignature(path: string): Promise<string> {
  try {
    return await readFile(`${path}.asc`, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw signatureMissing(`${path}.asc`, true);
    throw e;
  }
}

async function fetchSignature(url: string, http: HttpOptions): Promise<string> {
  const res = await httpGet(url, http);
  if (res.status === 404 || res.status === 410) {
    res.body.resume();
    throw signatureMissing(url, true);
  }
  expectOk(res, 'signature', '');
  return readText(res, 64 * 1024);
}

/** Downloads `url` to the file `to`, and the same bytes to `tee` when given. */
async function download(url: string, to: string, http: HttpOptions, onProgress: FetchOptions['onProgress'], tee?: PassThrough): Promise<void> {
  const res = await httpGet(url, http);
  expectOk(res, 'image', 'Check the image address');
  const body = bodyMeter(res, (done, total) => onProgress?.({ phase: 'download', done, total }));
  // The early verification may give up (and close its stream) before or during the
  // download; a closed tee must not hold the download back.
  if (tee && !tee.destroyed) {
    body.on('error', (e) => tee.destroy(e));
    tee.once('close', () => body.unpipe(tee));
    body.pipe(tee);
  }
  await pipeline(body, createWriteStream(to, { flags: 'wx', mode: 0o600, highWaterMark: 1 << 20 }));
}

/** A pass-through that reports bytes read. */
function meter(phase: FetchProgress['phase'], total: number, onProgress: FetchOptions['onProgress']): Transform {
  let done = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      done += chunk.length;
      onProgress?.({ phase, done, total });
      cb(null, chunk);
    },
  });
}

function readArchive(path: string, extra?: Transform): Readable {
  const file = createReadStream(path, { highWaterMark: 1 << 20 });
  if (!extra) return file;
  file.on('error', (e) => extra.destroy(e));
  extra.on('close', () => file.destroy());
  return file.pipe(extra);
}

async function formatOf(path: string, source: string): Promise<ArchiveFormat> {
  const handle = await open(path, 'r');
  try {
    const head = Buffer.alloc(SNIFF_BYTES);
    const { bytesRead } = await handle.read(head, 0, SNIFF_BYTES, 0);
    const format = sniffFormat(head.subarray(0, bytesRead));
    if (!isArchiveFormat(format)) {
      throw new AgentError({
        code: 'image.not-an-image',
        message: 'this is not an image archive (neither tar nor gzip, bzip2 or xz)',
        subject: source,
        hint: 'Give an .aci file or its URL',
      });
    }
    return format as ArchiveFormat;
  } finally {
    await handle.close();
  }
}

/** The space left free on the store's file system: 5% of its size, at most 1 GiB. */
const RESERVE_FRACTION = 0.05;
const MAX_RESERVE_BYTES = 1024 ** 3;

/** The default unpacked-size limit: the free space of the file system holding `dir`, less the reserve. */
export async function defaultMaxBytes(dir: string): Promise<number> {
  const fs = await statfs(dir);
  const reserve = Math.min(MAX_RESERVE_BYTES, Math.floor(fs.blocks * fs.bsize * RESERVE_FRACTION));
  return Math.max(0, fs.bavail * fs.bsize - reserve);
}

const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

/** Checks the manifest (or a stored image) is the image asked for (for a fetch by name). */
function checkWanted(manifest: Pick<ImageManifest, 'name' | 'labels'>, app: AppRef | undefined, source: string): void {
  if (!app) return;
  if (manifest.name !== app.name) {
    throw new AgentError({
      code: 'image.name-mismatch',
      message: `the image is named ${manifest.name}, not ${app.name}`,
      subject: source,
      hint: 'The server gave a different image than asked for: tell the publisher; nothing was stored',
    });
  }
  for (const [label, value] of Object.entries(app.labels)) {
    if (label === 'version' && value === DEFAULT_VERSION) continue;
    const actual = manifest.labels.find((l) => l.name === label)?.value;
    if (actual !== value) {
      throw new AgentError({
        code: 'image.label-mismatch',
        message: `the image has ${label}=${actual ?? '(none)'}, not ${label}=${value}`,
        subject: source,
        hint: 'The server gave a different image than asked for: tell the publisher; nothing was stored',
      });
    }
  }
}

export class Fetcher {
  /** The limits; the unpacked size, when not set, is derived from free space at each fetch. */
  private readonly limits: Omit<ExtractLimits, 'maxBytes'> & { maxBytes?: number };
  private readonly insecure: ReadonlySet<InsecureOption>;
  private readonly http: HttpOptions;

  constructor(private readonly options: FetchOptions) {
    this.limits = { ...DEFAULT_EXTRACT_LIMITS, ...options.limits };
    this.insecure = options.insecureOptions ?? new Set();
    this.http = { ...options.http, allowHttp: this.insecure.has('http') };
  }

  /** Fetches, verifies and stores one image; resolves with what the store holds. A full disk is `disk.full`. */
  fetch(source: AppcSource): Promise<ImageInfo> {
    return this.fetchInto(source).catch(async (e: unknown) => {
      throw await explainWriteError(e, this.options.store.dir);
    });
  }

  private async fetchInto(source: AppcSource): Promise<ImageInfo> {
    const wanted = source.kind === 'name' ? source.app : undefined;
    const located = await this.locate(source, wanted);
    if ('stored' in located) return located.stored;
    try {
      const info = await this.ingest(located, wanted);
      if (located.temp && located.signature !== undefined) {
        await this.options.store.fetched.remember({ url: located.source, signatureSha256: sha256(located.signature), id: info.id });
      }
      return info;
    } finally {
      if (located.temp) await rm(located.temp, { force: true });
    }
  }

  private async locate(source: AppcSource, wanted: AppRef | undefined): Promise<Located | { stored: ImageInfo }> {
    if (source.kind === 'file') {
      await stat(source.path).catch((e: NodeJS.ErrnoException) => {
        throw new AgentError({
          code: 'image.not-found',
          message: `cannot read the image file (${e.code ?? e.message})`,
          subject: source.path,
          hint: 'Check the path',
          cause: e,
        });
      });
      const signature = this.insecure.has('image') ? undefined : await readLocalSignature(source.path);
      return { archive: source.path, signature, source: source.path };
    }
    if (source.kind === 'url') return this.downloadFrom(source.url, `${source.url}.asc`, wanted);
    const found = await discoverEndpoints(source.app, {
      get: pageGetter(this.http),
      insecureHttp: this.insecure.has('http'),
      ...(this.options.discoveryPort !== undefined && { port: this.options.discoveryPort }),
    });
    const errors: string[] = [];
    for (const endpoint of found.found) {
      try {
        return await this.downloadFrom(endpoint.aci, endpoint.asc, wanted);
      } catch (e) {
        if (found.found.length === 1) throw e;
        errors.push(`${endpoint.aci}: ${describeError(e)}`);
      }
    }
    throw new AgentError({
      code: 'image.download-failed',
      message: `no discovered location served the image (${errors.join('; ')})`,
      subject: source.app.name,
      hint: 'Try again later; if it persists, tell the publisher',
    });
  }

  private async downloadFrom(url: string, ascUrl: string, wanted: AppRef | undefined): Promise<Located | { stored: ImageInfo }> {
    const signature = this.insecure.has('image') ? undefined : await fetchSignature(ascUrl, this.http);
    const stored = signature === undefined ? undefined : await this.storedBefore(url, signature, wanted);
    if (stored) return { stored };
    const temp = this.options.store.tempFile('download');
    const tee = signature === undefined ? undefined : new PassThrough({ highWaterMark: 1 << 20 });
    const early = tee && this.verifyEarly(signature!, tee);
    try {
      await download(url, temp, this.http, this.options.onProgress, tee);
    } catch (e) {
      tee?.destroy();
      await early;
      await rm(temp, { force: true });
      throw e;
    }
    return { archive: temp, signature, source: url, temp, ...(early && { early }) };
  }

  /** The image an earlier download of `url` with this signature stored, if still trusted and wanted. */
  private async storedBefore(url: string, signature: string, wanted: AppRef | undefined): Promise<ImageInfo | undefined> {
    const { store, keystore } = this.options;
    const id = await store.fetched.lookup(url, sha256(signature));
    const info = id === undefined ? undefined : await store.get(id).catch(() => undefined);
    if (!info?.signer) return undefined;
    if (!(await keystore.keysFor(info.name)).some((k) => k.fingerprint === info.signer)) return undefined;
    checkWanted(info, wanted, url);
    return info;
  }

  /**
   * Verifies `data` as it streams in, against every trusted key (the name is not known
   * yet). Resolves with the signer's fingerprint, or undefined when this cannot settle it
   * (unknown signer, bad signature, failed download); never rejects, always drains `data`.
   */
  private async verifyEarly(signature: string, data: PassThrough): Promise<string | undefined> {
    data.on('error', () => undefined); // a failed download ends it; the download reports why
    try {
      const all = await this.options.keystore.list();
      return (await verifyDetached({ name: 'download', signature, data, trusted: all, known: all })).fingerprint;
    } catch {
      data.resume();
      return undefined;
    }
  }

  /** Steps 3–6 on an archive on disk: signature, manifest, signer's trust, extraction, commit. */
  private async ingest(located: Located, wanted: AppRef | undefined): Promise<ImageInfo> {
    const { archive, source } = located;
    const before = await stat(archive);
    const signer = await this.verify(located, wanted, before.size);
    const format = await formatOf(archive, source);
    const manifestBytes = await peekManifest(decompress(readArchive(archive), format, source), source, this.limits);
    const manifest = validateImageManifest(parseManifestText(manifestBytes.toString('utf8')));
    checkWanted(manifest, wanted, source);
    await this.checkSigner(located, signer, manifest.name);
    const limits = { ...this.limits, maxBytes: this.limits.maxBytes ?? (await defaultMaxBytes(this.options.store.dir)) };

    const work = await this.options.store.newTempDir('extract');
    try {
      const tap = new DigestTap({ algorithm: 'sha512' });
      const tar = decompress(readArchive(archive, meter('extract', before.size, this.options.onProgress)), format, source);
      tar.on('error', (e) => tap.destroy(e));
      tap.on('close', () => tar.destroy()); // an aborted extraction stops decompression (and its child)
      await extractAci(tar.pipe(tap), work, {
        image: manifest.name,
        limits,
        allowDevices: this.options.allowDevices ?? false,
        keepOwnership: this.options.keepOwnership ?? process.getuid?.() === 0,
      });
      await this.checkUnchanged(located, before, manifestBytes, join(work, 'manifest'));
      return await this.options.store.commit(work, {
        id: `sha512-${tap.hex()}`,
        format: 'appc',
        name: manifest.name,
        labels: manifest.labels,
        size: tap.bytes,
        imported: new Date().toISOString(),
        lastUsed: null,
        source,
        signer,
      });
    } catch (e) {
      await rm(work, { recursive: true, force: true });
      throw e;
    }
  }

  /**
   * Step 3: the signature over the bytes as served, against every trusted key whatever its
   * prefix (the image's name is in the archive, not read yet). Resolves with the signer, or
   * null without verification.
   */
  private async verify(located: Located, wanted: AppRef | undefined, size: number): Promise<string | null> {
    if (located.signature === undefined) return null;
    const trusted = await this.options.keystore.list();
    const early = await located.early;
    if (early !== undefined) {
      this.options.onProgress?.({ phase: 'verify', done: size, total: size });
      return early;
    }
    const verified = await verifyDetached({
      name: wanted?.name ?? located.source,
      signature: located.signature,
      data: readArchive(located.archive, meter('verify', size, this.options.onProgress)),
      trusted,
      ...(!wanted && {
        scope: 'any image name',
        trustHint:
          'If you trust this publisher, run `agentctl trust --prefix NAME KEYFILE` with their public key, NAME being the image names they may sign ' +
          '(the image was not opened to read its own name, as no trusted key signed it)',
      }),
    });
    return verified.fingerprint;
  }

  /** Step 5: the signer (verified in step 3) must be trusted for the manifest's name. */
  private async checkSigner(located: Located, signer: string | null, name: string): Promise<void> {
    if (signer === null) {
      this.options.onWarning?.(`image ${name} from ${located.source} is stored WITHOUT signature verification (--insecure-options=image)`);
      return;
    }
    const { keystore } = this.options;
    if ((await keystore.keysFor(name)).some((k) => k.fingerprint === signer)) return;
    throw untrustedSigner({ name, signature: located.signature! }, signer, (await keystore.list()).filter((k) => k.fingerprint === signer));
  }

  /** The archive read for extraction must be the one verified (a local file may change). */
  private async checkUnchanged(located: Located, before: { size: number; mtimeMs: number; ino: number; ctimeMs: number }, manifestBytes: Buffer, extractedManifest: string): Promise<void> {
    const after = await stat(located.archive);
    const same =
      after.size === before.size && after.mtimeMs === before.mtimeMs && after.ino === before.ino && after.ctimeMs === before.ctimeMs;
    if (!same || !(await readFile(extractedManifest)).equals(manifestBytes)) {
      throw new AgentError({
        code: 'image.changed-during-fetch',
        message: 'the image file changed while it was being verified and extracted',
        subject: located.source,
        hint: 'Fetch it again once nothing writes to it; nothing was stored',
      });
    }
  }
}

/**
 * What a person means by an image argument: a `docker://` reference (an OCI image in a
 * registry), an http(s) URL, a file path (absolute, relative with `./` or `../`, or ending
 * in `.aci`), or else an appc image name for discovery.
 */
export function classifyImageArgument(arg: string, toApp: (text: string) => AppRef): ImageSource {
  if (arg.startsWith(DOCKER_TRANSPORT)) return { kind: 'docker', reference: parseReference(arg) };
  if (/^https?:\/\//.test(arg)) return { kind: 'url', url: arg };
  if (arg.startsWith('/') || arg.startsWith('./') || arg.startsWith('../') || arg.endsWith('.aci')) return { kind: 'file', path: arg };
  return { kind: 'name', app: toApp(arg) };
}
