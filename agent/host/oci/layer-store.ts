/**
 * The content-addressed store of OCI layers under `<stateDir>/layers`, shared by every
 * image that lists a layer:
 *
 *   layers/<layerId>/diff/       the extracted layer, whiteouts as overlayfs has them; a
 *                                container's lowerdir stack is made of these
 *   layers/<layerId>/meta.json   diffId, compressed digest, size, created
 *   layers/.tmp-*                work in progress: imports, removals
 *
 * `<layerId>` is `sha256-<hex of the diff ID>`, the digest of the uncompressed tar, so a
 * layer is the same whatever compression it was served with. An import extracts into a
 * `.tmp-*` directory (../images/extract.ts, the same safety as ACIs) while it hashes the
 * uncompressed bytes (and the compressed ones when their digest is given); on a mismatch
 * nothing is kept; a verified layer appears by one rename. A stored layer is never fetched
 * or extracted again, and two imports of one layer at once do the work once. A crash
 * leaves only `.tmp-*`, which `open` removes; a layer whose meta.json is missing or damaged
 * (../fs/state-file.ts) is moved aside to `<layerId>.corrupt-<time>` and fetched again when
 * an image needs it. One process at a time holds the store (`layers/.lock`).
 */
import { randomBytes } from 'node:crypto';
import { access, chmod, mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { AgentError } from '../../core/errors.js';
import { commitTemp, fsyncDir, removeTempLeftovers, TEMP_PREFIX, writeFileAtomic } from '../fs/atomic.js';
import type { OwnerLock } from '../fs/owner-lock.js';
import { isObject, moveAside, readStateFile, warnOnStderr, type Checked, type StateFileKind, type Warn } from '../fs/state-file.js';
import { extractLayer, MAX_BYTES_SETTING, type ExtractLimits } from '../images/extract.js';
import { lockStore } from '../images/store.js';
import { DigestTap } from '../stream/digest-tap.js';
import { decompress } from '../stream/decompress.js';

export interface LayerStoreOptions {
  /** The agent's state directory, default `/var/lib/host-agent`. */
  stateDir: string;
  /** How long to wait for another process to let go of the store; default 0. */
  lockWaitMs?: number;
  /** Where warnings about damaged files go; default stderr. */
  warn?: Warn;
}

export interface LayerInfo {
  /** `sha256-<hex of the diff ID>`. */
  id: string;
  /** `sha256:<hex>` of the uncompressed tar. */
  diffId: string;
  /** `ALGORITHM:<hex>` of the blob as the registry serves it, or null when it was not given. */
  digest: string | null;
  /** Bytes of the uncompressed tar. */
  size: number;
  /** ISO time the layer was stored. */
  created: string;
}

export interface ImportOptions {
  /** How the blob is compressed (zstd is refused). */
  compression: 'gzip' | 'none';
  /** `sha256:<hex>` of the uncompressed tar, from the image config's rootfs.diff_ids. */
  diffId: string;
  /** `sha256:<hex>` or `sha512:<hex>` of the blob as served (the manifest's layer digest), checked too when given. */
  digest?: string;
  limits: ExtractLimits;
  signal?: AbortSignal;
  /** The image and layer for messages; default the diff ID. */
  subject?: string;
  /** Keep the archive's uid/gid; default: when running as root. */
  keepOwnership?: boolean;
}

/** The blob: a stream, or a function opening it (then nothing is fetched when the layer is stored or on its way). */
export type LayerSource = Readable | (() => Readable | Promise<Readable>);

const LAYER_ID = /^sha256-[0-9a-f]{64}$/;
const DIFF_ID = /^sha256:([0-9a-f]{64})$/;
const DIGEST = /^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$/;
const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);
const BAD_LAYER_HINT = 'The registry served other bytes than the image names, or the image is malformed: nothing was stored; fetch it again, or tell its publisher';

/** The layer ID of diff ID `sha256:<hex>`; throws for anything else. */
export function layerIdOf(diffId: string): string {
  const hex = DIFF_ID.exec(diffId)?.[1];
  if (hex === undefined) {
    throw new AgentError({
      code: 'image.bad-digest',
      message: `the layer diff ID ${JSON.stringify(diffId.slice(0, 200))} is not sha256:<64 hex digits>`,
      subject: diffId.slice(0, 200),
      hint: 'The image config is malformed: tell its publisher',
    });
  }
  return `sha256-${hex}`;
}

/** Pure: `json` as the meta.json of layer `id`, refused unless every field has its type and the diff ID matches. */
export function checkLayerInfo(json: unknown, id: string): Checked<LayerInfo> {
  if (!isObject(json)) return { refused: 'it is not a JSON object' };
  const o = json;
  const problems = [
    o.id !== id && `its id is not ${id}`,
    !(typeof o.diffId === 'string' && DIFF_ID.test(o.diffId) && `sha256-${o.diffId.slice('sha256:'.length)}` === id) && 'diffId does not match the layer',
    !(o.digest === null || (typeof o.digest === 'string' && DIGEST.test(o.digest))) && 'digest is not a digest or null',
    !(Number.isSafeInteger(o.size) && (o.size as number) >= 0) && 'size is not a byte count',
    !(typeof o.created === 'string' && !Number.isNaN(Date.parse(o.created))) && 'created is not a time',
  ].filter((p): p is string => typeof p === 'string');
  if (problems.length) return { refused: problems.join(', ') };
  const { diffId, digest, size, created } = o as unknown as LayerInfo;
  return { value: { id, diffId, digest, size, created } };
}

function metaKind(id: string): StateFileKind<LayerInfo> {
  return {
    what: `the record of layer ${id}`,
    instead: 'the layer directory was moved aside instead; it is fetched again when an image needs it',
    check: (json) => checkLayerInfo(json, id),
  };
}

function mismatch(subject: string, what: string, expected: string, actual: string): AgentError {
  return new AgentError({ code: 'image.digest-mismatch', message: `the layer's ${what} is ${actual}, not ${expected}`, subject, hint: BAD_LAYER_HINT });
}

function cancelled(subject: string): AgentError {
  return new AgentError({ code: 'image.cancelled', message: 'the layer import was cancelled', subject, hint: 'Nothing was stored; fetch the image again' });
}

/** `image.unsupported-compression` when the blob starts with the zstd magic. */
function zstdRefused(head: Buffer, subject: string): AgentError | undefined {
  if (!head.equals(ZSTD_MAGIC)) return undefined;
  return new AgentError({
    code: 'image.unsupported-compression',
    message: 'the layer is compressed with zstd, which host-agent does not read yet',
    subject,
    hint: 'Push the image with gzip layers (skopeo copy --dest-compress-format gzip, or podman push --compression-format gzip)',
  });
}

export class LayerStore {
  readonly dir: string;
  private readonly warn: Warn;
  /** Imports under way, by layer ID. */
  private readonly importing = new Map<string, Promise<LayerInfo>>();

  private constructor(options: LayerStoreOptions, private readonly lock: OwnerLock) {
    this.dir = join(options.stateDir, 'layers');
    this.warn = options.warn ?? warnOnStderr;
  }

  /** Opens the store for this process: takes its lock, removes leftovers of interrupted work, sets aside layers without a record. */
  static async open(options: LayerStoreOptions): Promise<LayerStore> {
    const dir = join(options.stateDir, 'layers');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const warn = options.warn ?? warnOnStderr;
    const store = new LayerStore(options, await lockStore(dir, options.lockWaitMs ?? 0, warn));
    await removeTempLeftovers(dir);
    for (const id of await store.ids()) {
      const missing = await access(join(store.layerPath(id), 'meta.json')).then(() => false, (e: NodeJS.ErrnoException) => e.code === 'ENOENT');
      if (!missing) continue;
      const aside = await moveAside(store.layerPath(id));
      warn(`${store.layerPath(id)}: layer ${id} has no meta.json, so it is not known to be complete; moved aside to ${aside}; it is fetched again when an image needs it`);
    }
    return store;
  }

  /** Lets go of the store. */
  async close(): Promise<void> {
    await this.lock.release();
  }

  /** The extracted tree of layer `id`: a lowerdir of the overlay. */
  layerDir(id: string): string {
    return join(this.layerPath(id), 'diff');
  }

  /** Whether layer `id` is stored (complete and verified). */
  async has(id: string): Promise<boolean> {
    return (await this.get(id)) !== undefined;
  }

  /** The record of layer `id`, or undefined when it is not stored. */
  async get(id: string): Promise<LayerInfo | undefined> {
    if (!LAYER_ID.test(id)) return undefined;
    return readStateFile(join(this.layerPath(id), 'meta.json'), metaKind(id), { warn: this.warn, setAside: this.layerPath(id) });
  }

  /** Every stored layer. */
  async list(): Promise<LayerInfo[]> {
    const infos = await Promise.all((await this.ids()).map((id) => this.get(id)));
    return infos.filter((i): i is LayerInfo => i !== undefined);
  }

  /**
   * Stores the layer whose blob `source` gives, unless it is stored already (then `source`
   * is not read). An import of the same layer under way is awaited instead of repeated;
   * should it fail, this one tries with its own source.
   */
  async importLayer(source: LayerSource, options: ImportOptions): Promise<LayerInfo> {
    const id = layerIdOf(options.diffId);
    const subject = options.subject ?? options.diffId;
    if (options.digest !== undefined && !DIGEST.test(options.digest)) {
      throw new AgentError({ code: 'image.bad-digest', message: `the layer digest ${JSON.stringify(options.digest.slice(0, 200))} is not sha256:<hex> or sha512:<hex>`, subject, hint: 'The image manifest is malformed: tell its publisher' });
    }
    for (;;) {
      const running = this.importing.get(id);
      if (running !== undefined) {
        await running.catch(() => undefined);
        continue;
      }
      const stored = await this.get(id);
      if (stored !== undefined) {
        if (typeof source !== 'function') source.destroy();
        return stored;
      }
      if (!this.importing.has(id)) break; // else another import started while we looked
    }
    const work = this.extract(id, source, options, subject).finally(() => this.importing.delete(id));
    this.importing.set(id, work);
    return work;
  }

  /**
   * Removes the layers not in `inUse` (layer IDs of the stored images) nor being imported:
   * each disappears at once (renamed to `.tmp-rm-*`), its files are deleted after.
   * The caller keeps images from being stored meanwhile. Returns the IDs removed.
   */
  async removeUnused(inUse: ReadonlySet<string>): Promise<string[]> {
    const removed: string[] = [];
    for (const id of await this.ids()) {
      if (inUse.has(id) || this.importing.has(id)) continue;
      const doomed = join(this.dir, `${TEMP_PREFIX}rm-${randomBytes(8).toString('hex')}`);
      await rename(this.layerPath(id), doomed);
      await fsyncDir(this.dir);
      await rm(doomed, { recursive: true, force: true });
      removed.push(id);
    }
    return removed;
  }

  private layerPath(id: string): string {
    return join(this.dir, id);
  }

  private async ids(): Promise<string[]> {
    return (await readdir(this.dir)).filter((n) => LAYER_ID.test(n));
  }

  /** Extracts and verifies into a temp directory, then publishes it by one rename. */
  private async extract(id: string, source: LayerSource, options: ImportOptions, subject: string): Promise<LayerInfo> {
    const work = join(this.dir, `${TEMP_PREFIX}import-${randomBytes(8).toString('hex')}`);
    await mkdir(join(work, 'diff'), { recursive: true, mode: 0o755 });
    try {
      if (options.signal?.aborted) throw cancelled(subject);
      const blob = typeof source === 'function' ? await source() : source;
      const digestAlgorithm = options.digest?.slice(0, options.digest.indexOf(':'));
      const compressed = new DigestTap({
        ...(digestAlgorithm !== undefined && { algorithm: digestAlgorithm }),
        head: { bytes: ZSTD_MAGIC.length, check: (head) => zstdRefused(head, subject) },
      });
      const { maxBytes } = options.limits;
      const diff = new DigestTap({
        algorithm: 'sha256',
        maxBytes,
        tooMany: () => new AgentError({ code: 'image.too-large', message: `the layer unpacks to more than ${maxBytes} bytes`, subject, hint: `The limit is ${MAX_BYTES_SETTING}: if this image is genuine, make room in the store or raise that setting` }),
      });
      blob.on('error', (e) => compressed.destroy(e));
      compressed.on('close', () => blob.destroy());
      const tar = decompress(blob.pipe(compressed), options.compression, subject);
      tar.on('error', (e) => diff.destroy(e));
      diff.on('close', () => tar.destroy()); // a failed extraction stops the download and decompression
      const abort = (): void => void diff.destroy(cancelled(subject));
      options.signal?.addEventListener('abort', abort, { once: true });
      if (options.signal?.aborted) abort(); // while the blob was being opened
      try {
        await extractLayer(tar.pipe(diff), join(work, 'diff'), {
          image: subject,
          limits: options.limits,
          allowDevices: false,
          keepOwnership: options.keepOwnership ?? process.getuid?.() === 0,
        });
      } finally {
        options.signal?.removeEventListener('abort', abort);
      }
      if (options.digest !== undefined) {
        if (!compressed.ended) throw mismatch(subject, 'blob', options.digest, 'longer than its compressed data');
        const actual = `${digestAlgorithm}:${compressed.hex()}`;
        if (actual !== options.digest) throw mismatch(subject, 'digest', options.digest, actual);
      }
      const diffId = `sha256:${diff.hex()}`;
      if (!diff.ended || diffId !== options.diffId) throw mismatch(subject, 'diff ID', options.diffId, diff.ended ? diffId : 'longer than its tar archive');
      const info: LayerInfo = { id, diffId, digest: options.digest ?? null, size: diff.bytes, created: new Date().toISOString() };
      await writeFileAtomic(join(work, 'meta.json'), `${JSON.stringify(info, null, 2)}\n`, { mode: 0o644 });
      await chmod(work, 0o755);
      await fsyncDir(work);
      await commitTemp(work, this.layerPath(id));
      return info;
    } catch (e) {
      if (typeof source !== 'function') source.destroy();
      await rm(work, { recursive: true, force: true });
      throw e;
    }
  }
}
