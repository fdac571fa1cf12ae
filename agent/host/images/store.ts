/**
 * The content-addressed image store under `<stateDir>/images`:
 *
 *   images/<id>/manifest      appc: the image manifest, as in the archive
 *   images/<id>/rootfs/       appc: the extracted tree (the image's one layer), shared read-only by containers
 *   images/<id>/record.json   OCI: the image record (agent/core/image/record.ts); appc builds it from the manifest
 *   images/<id>/meta.json     format, name, labels, size, imported, last used, source, signer
 *   layers/<layerId>/diff/    OCI: an extracted layer, shared by the images that list it
 *   images/index.json         name + labels → id (derived; rebuilt from meta.json on open)
 *   images/fetched.json       URL + signature → id of verified downloads (a cache: ./fetch-memo.ts)
 *   images/.tmp-*             work in progress: downloads, extractions, removals
 *
 * Invariants: an `images/<id>` directory is complete and verified (it appears by one
 * rename); removal renames it to `.tmp-rm-*` first, so it vanishes at once. A crash at any
 * point leaves only `.tmp-*` leftovers, removed by `open`, and an index that `open`
 * reconciles with the directories. Index writes are serialised within the process; one
 * process at a time holds the store (`images/.lock`, ../fs/owner-lock.ts), because the
 * start-up clean-up would remove another process's work in progress.
 *
 * Damage (../fs/state-file.ts): an index that does not parse or holds bad entries is moved
 * aside and rebuilt from the image directories. An image whose meta.json is damaged or
 * missing cannot show who signed it, so it must not run as verified: its whole directory is
 * moved aside to `images/<id>.corrupt-<time>` with a warning, and fetching it again restores it.
 */
import { randomBytes } from 'node:crypto';
import { access, chmod, mkdir, readFile, readdir, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { AgentError, describeError } from '../../core/errors.js';
import { validateImageManifest, type Label } from '../../core/appc/manifest.js';
import { appcRecord } from '../../core/appc/record.js';
import { checkImageRecord } from '../../core/image/check.js';
import { IMAGE_ID, looksLikeImageId } from '../../core/image/id.js';
import type { ImageFormat, ImageRecord } from '../../core/image/record.js';
import { commitTemp, fsyncDir, removeTempLeftovers, TEMP_PREFIX, writeFileAtomic } from '../fs/atomic.js';
import { isLock, tryLock, type OwnerLock } from '../fs/owner-lock.js';
import { isObject, keepValid, moveAside, readStateFile, warnOnStderr, type Checked, type StateFileKind, type Warn } from '../fs/state-file.js';
import { FetchMemo } from './fetch-memo.js';

export interface StorePaths {
  /** The agent's state directory, default `/var/lib/host-agent`. */
  stateDir: string;
  /** How long to wait for another process to let go of the store; default 0 (do not wait). */
  lockWaitMs?: number;
  /** Where warnings about damaged files go; default stderr. */
  warn?: Warn;
}

export interface ImageInfo {
  /** appc: `sha512-<hex of the uncompressed tar>`; OCI: `sha256-<hex of the manifest digest>`. */
  id: string;
  /** How the image is stored; a meta.json written before OCI support has none: appc. */
  format: ImageFormat;
  name: string;
  labels: Label[];
  /** Bytes of the uncompressed tar. */
  size: number;
  /** ISO time the image was stored. */
  imported: string;
  /** ISO time a container last started from it, or null. */
  lastUsed: string | null;
  /** Where it was fetched from: a path or URL. */
  source: string;
  /** Lowercase fingerprint of the key that signed it; null when fetched without verification. */
  signer: string | null;
}

interface IndexEntry {
  name: string;
  labels: Label[];
  id: string;
}

const ID = IMAGE_ID;

/**
 * Where layer `layerId` of an image is: an appc image is its own one layer (its ID is a
 * `sha512-` image ID) → `images/<id>/rootfs`; any other layer is an OCI layer, shared
 * between images → `layers/<layerId>/diff`. Pure.
 */
export function layerDirOf(stateDir: string, layerId: string): string {
  return layerId.startsWith('sha512-') ? join(stateDir, 'images', layerId, 'rootfs') : join(stateDir, 'layers', layerId, 'diff');
}

function isLabel(v: unknown): v is Label {
  return isObject(v) && typeof v.name === 'string' && typeof v.value === 'string';
}

function isLabels(v: unknown): v is Label[] {
  return Array.isArray(v) && v.every(isLabel);
}

/** Pure: `json` as the meta.json of image `id`, refused unless every field has its type and the id matches. */
export function checkImageInfo(json: unknown, id: string): Checked<ImageInfo> {
  if (!isObject(json)) return { refused: 'it is not a JSON object' };
  const o = json;
  const problems = [
    o.id !== id && `its id is not ${id}`,
    !(o.format === undefined || o.format === 'appc' || o.format === 'oci') && 'format is not appc or oci',
    typeof o.name !== 'string' && 'name is not a string',
    !isLabels(o.labels) && 'labels are not a list of name/value pairs',
    !(Number.isSafeInteger(o.size) && (o.size as number) >= 0) && 'size is not a byte count',
    !(typeof o.imported === 'string' && !Number.isNaN(Date.parse(o.imported))) && 'imported is not a time',
    !(o.lastUsed === null || (typeof o.lastUsed === 'string' && !Number.isNaN(Date.parse(o.lastUsed)))) && 'lastUsed is not a time or null',
    typeof o.source !== 'string' && 'source is not a string',
    !(o.signer === null || (typeof o.signer === 'string' && /^[0-9a-f]+$/.test(o.signer))) && 'signer is not a fingerprint or null',
  ].filter((p): p is string => typeof p === 'string');
  if (problems.length) return { refused: problems.join(', ') };
  const { name, labels, size, imported, lastUsed, source, signer } = o as unknown as ImageInfo;
  const format = (o.format as ImageFormat | undefined) ?? 'appc';
  return { value: { id, format, name, labels, size, imported, lastUsed, source, signer } };
}

function recordKind(id: string): StateFileKind<ImageRecord> {
  return {
    what: `the image record of image ${id}`,
    instead: 'without it the image cannot run, so the image directory was moved aside instead; fetch the image again',
    check: (json) => checkImageRecord(json, id),
  };
}

function metaKind(id: string): StateFileKind<ImageInfo> {
  return {
    what: `the record of image ${id}`,
    instead: 'without it the image cannot show who signed it, so the image directory was moved aside instead; fetch the image again',
    check: (json) => checkImageInfo(json, id),
  };
}

function isIndexEntry(v: unknown): v is IndexEntry {
  return isObject(v) && typeof v.name === 'string' && isLabels(v.labels) && typeof v.id === 'string' && ID.test(v.id);
}

/** Pure: `json` as index.json; bad entries are dropped (the index is rebuilt from the directories anyway). */
export function checkIndex(json: unknown): Checked<IndexEntry[]> {
  if (!isObject(json) || !Array.isArray(json.images)) return { refused: 'it is not {"images": [...]}' };
  const { kept, dropped } = keepValid(json.images, isIndexEntry);
  return dropped === undefined ? { value: kept } : { value: kept, dropped };
}

const INDEX: StateFileKind<IndexEntry[]> = {
  what: 'the image index',
  instead: 'it is rebuilt from the image directories',
  check: checkIndex,
};

function notFound(ref: string): AgentError {
  return new AgentError({
    code: 'image.not-in-store',
    message: 'no such image in the store',
    subject: ref,
    hint: 'See the stored images with `agentctl image list`, or fetch it with `agentctl fetch`',
  });
}

/** Takes the store lock `<dir>/.lock`, waiting up to `waitMs` for another process to let go. */
export async function lockStore(dir: string, waitMs: number, warn: Warn): Promise<OwnerLock> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const result = await tryLock(join(dir, '.lock'), warn);
    if (isLock(result)) return result;
    if (Date.now() >= deadline) {
      throw new AgentError({
        code: 'image.store-busy',
        message: `the image store is in use by process ${result.pid}`,
        subject: dir,
        hint: 'agentd holds it while it runs (then agentctl goes through agentd); otherwise wait for that process to finish',
      });
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

function sameLabels(a: Label[], b: Label[]): boolean {
  return a.length === b.length && a.every((l) => b.some((m) => m.name === l.name && m.value === l.value));
}

export class ImageStore {
  readonly dir: string;
  /** Which signed downloads gave which stored image. */
  readonly fetched: FetchMemo;
  private index: IndexEntry[] = [];
  private writing: Promise<unknown> = Promise.resolve();
  private readonly warn: Warn;

  private constructor(paths: StorePaths, private readonly lock: OwnerLock) {
    this.dir = join(paths.stateDir, 'images');
    this.warn = paths.warn ?? warnOnStderr;
    this.fetched = new FetchMemo(this.dir, this.warn);
  }

  /**
   * Opens the store for this process: takes its lock (waiting up to `lockWaitMs` for
   * another holder), removes temp leftovers of interrupted work, reconciles the index.
   */
  static async open(paths: StorePaths): Promise<ImageStore> {
    const dir = join(paths.stateDir, 'images');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const store = new ImageStore(paths, await lockStore(dir, paths.lockWaitMs ?? 0, paths.warn ?? warnOnStderr));
    await removeTempLeftovers(store.dir);
    await store.setAsideIncomplete();
    const images = await store.list();
    for (const image of images) await removeTempLeftovers(store.imageDir(image.id));
    // A missing (or damaged, so moved aside) index is an empty one.
    const indexed = await store.readIndex();
    const present = new Set(images.map((i) => i.id));
    const kept = indexed.filter((e) => present.has(e.id));
    for (const image of images) {
      if (!kept.some((e) => e.id === image.id)) kept.push({ name: image.name, labels: image.labels, id: image.id });
    }
    store.index = kept;
    if (kept.length !== indexed.length || kept.some((e, i) => e !== indexed[i])) {
      // The index in memory is right; on a full disk the file is rebuilt at the next open.
      await store.writeIndex().catch((e: unknown) => store.warn(`cannot write the image index: ${describeError(e)}`));
    }
    return store;
  }

  /** Moves aside image directories without a meta.json (made by hand: commit never leaves one). */
  private async setAsideIncomplete(): Promise<void> {
    for (const id of (await readdir(this.dir)).filter((n) => ID.test(n))) {
      const missing = await access(join(this.imageDir(id), 'meta.json')).then(() => false, (e: NodeJS.ErrnoException) => e.code === 'ENOENT');
      if (!missing) continue;
      const aside = await moveAside(this.imageDir(id));
      this.warn(`${this.imageDir(id)}: image ${id} has no meta.json, so it cannot show who signed it; moved aside to ${aside}; fetch the image again`);
    }
  }

  /** Lets go of the store (another process may open it). */
  async close(): Promise<void> {
    await this.lock.release();
  }

  imageDir(id: string): string {
    return join(this.dir, id);
  }

  /** The directory of layer `layerId` (see layerDirOf). */
  layerDir(layerId: string): string {
    return layerDirOf(dirname(this.dir), layerId);
  }

  /**
   * The format-neutral record of image `id`: appc builds it from the stored manifest (the
   * adapter, ../../core/appc/record.ts); an OCI image keeps it in `record.json`. A damaged
   * record.json moves the image aside (as a damaged meta.json does) and reads as not found.
   */
  async record(id: string): Promise<ImageRecord> {
    const info = await this.readMeta(id);
    if (!info) throw notFound(id);
    if (info.format === 'appc') {
      return appcRecord(validateImageManifest(JSON.parse(await readFile(join(this.imageDir(id), 'manifest'), 'utf8'))), id);
    }
    const record = await readStateFile(join(this.imageDir(id), 'record.json'), recordKind(id), { warn: this.warn, setAside: this.imageDir(id) });
    if (!record) throw notFound(id);
    return record;
  }

  /** A new empty work directory inside the store (same file system, so it can be renamed in). */
  async newTempDir(kind: string): Promise<string> {
    const path = join(this.dir, `${TEMP_PREFIX}${kind}-${randomBytes(8).toString('hex')}`);
    await mkdir(path, { mode: 0o700 });
    return path;
  }

  /** A temp file path inside the store, for downloads. */
  tempFile(kind: string): string {
    return join(this.dir, `${TEMP_PREFIX}${kind}-${randomBytes(8).toString('hex')}`);
  }

  /** Every stored image, sorted by name then import time. */
  async list(): Promise<ImageInfo[]> {
    const names = (await readdir(this.dir)).filter((n) => ID.test(n));
    const infos: ImageInfo[] = [];
    for (const id of names) {
      const info = await this.readMeta(id);
      if (info) infos.push(info);
    }
    return infos.sort((a, b) => a.name.localeCompare(b.name) || a.imported.localeCompare(b.imported));
  }

  /**
   * Finds an image by full ID, by an ID prefix (`sha512-` or `sha256-` and at least 8 hex
   * digits), or by name and labels (the latest import whose labels include all the given ones).
   */
  async get(ref: string, labels: Label[] = []): Promise<ImageInfo> {
    if (looksLikeImageId(ref)) {
      const matches = (await readdir(this.dir)).filter((n) => ID.test(n) && n.startsWith(ref));
      if (matches.length > 1 || ref.length < 'sha512-'.length + 8) {
        throw new AgentError({
          code: 'image.ambiguous-id',
          message: 'this ID prefix is too short to name one image',
          subject: ref,
          hint: 'Give more digits of the ID (see `agentctl image list`)',
        });
      }
      const info = matches[0] && (await this.readMeta(matches[0]));
      if (!info) throw notFound(ref);
      return info;
    }
    const candidates = this.index.filter(
      (e) => e.name === ref && labels.every((l) => e.labels.some((m) => m.name === l.name && m.value === l.value)),
    );
    const infos = (await Promise.all(candidates.map((e) => this.readMeta(e.id)))).filter((i): i is ImageInfo => i !== undefined);
    const latest = infos.sort((a, b) => b.imported.localeCompare(a.imported))[0];
    if (!latest) throw notFound(labels.length ? `${ref},${labels.map((l) => `${l.name}=${l.value}`).join(',')}` : ref);
    return latest;
  }

  /**
   * Moves a finished, verified work directory (holding `manifest` and `rootfs/`) into place
   * as image `info.id`, and indexes it. When the image is already stored, the work
   * directory is dropped and the stored one returned.
   */
  async commit(workDir: string, info: ImageInfo): Promise<ImageInfo> {
    const target = this.imageDir(info.id);
    let stored = info;
    const existing = await this.readMeta(info.id);
    if (existing) {
      await rm(workDir, { recursive: true, force: true });
      stored = existing;
    } else {
      await writeFileAtomic(join(workDir, 'meta.json'), `${JSON.stringify(info, null, 2)}\n`, { mode: 0o644 });
      await chmod(workDir, 0o755);
      await fsyncDir(workDir);
      await commitTemp(workDir, target);
    }
    await this.updateIndex((index) => [
      ...index.filter((e) => !(e.name === stored.name && sameLabels(e.labels, stored.labels))),
      { name: stored.name, labels: stored.labels, id: stored.id },
    ]);
    return stored;
  }

  /**
   * Indexes the stored image `id` under another name and labels as well (an OCI image whose
   * digest a second tag names). Derived, like the whole index: after a restart the entry is
   * gone until the image is fetched under that name again.
   */
  async alias(id: string, name: string, labels: Label[]): Promise<void> {
    if (!(await this.readMeta(id))) throw notFound(id);
    await this.updateIndex((index) => [...index.filter((e) => !(e.name === name && sameLabels(e.labels, labels))), { name, labels, id }]);
  }

  /** Removes an image: it disappears at once (one rename), its files are deleted after. */
  async remove(id: string): Promise<void> {
    if (!(await this.readMeta(id))) throw notFound(id);
    const doomed = join(this.dir, `${TEMP_PREFIX}rm-${randomBytes(8).toString('hex')}`);
    await rename(this.imageDir(id), doomed);
    await fsyncDir(this.dir);
    await this.updateIndex((index) => index.filter((e) => e.id !== id));
    await this.fetched.forget(id);
    await rm(doomed, { recursive: true, force: true });
  }

  /**
   * Removes images no container references whose last use (or import) is older than
   * `graceMs` before `now`. Returns the IDs removed.
   */
  async gc(referenced: ReadonlySet<string>, graceMs: number, now = new Date()): Promise<string[]> {
    const removed: string[] = [];
    for (const image of await this.list()) {
      if (referenced.has(image.id)) continue;
      if (now.getTime() - Date.parse(image.lastUsed ?? image.imported) < graceMs) continue;
      await this.remove(image.id);
      removed.push(image.id);
    }
    return removed;
  }

  /** Records that a container started from image `id`. */
  async touch(id: string, now = new Date()): Promise<void> {
    const info = await this.readMeta(id);
    if (!info) throw notFound(id);
    info.lastUsed = now.toISOString();
    await writeFileAtomic(join(this.imageDir(id), 'meta.json'), `${JSON.stringify(info, null, 2)}\n`, { mode: 0o644 });
  }

  private async readMeta(id: string): Promise<ImageInfo | undefined> {
    if (!ID.test(id)) return undefined;
    return readStateFile(join(this.imageDir(id), 'meta.json'), metaKind(id), { warn: this.warn, setAside: this.imageDir(id) });
  }

  /** The entries of index.json; none when it is missing or was damaged (then moved aside). */
  private async readIndex(): Promise<IndexEntry[]> {
    const path = join(this.dir, 'index.json');
    const entries = await readStateFile(path, INDEX, { warn: this.warn });
    if (!entries) return [];
    // Entries kept from a damaged file (moved aside) are not used: open rebuilds it from the directories.
    return access(path).then(() => entries, () => []);
  }

  private async writeIndex(): Promise<void> {
    await writeFileAtomic(join(this.dir, 'index.json'), `${JSON.stringify({ images: this.index }, null, 2)}\n`, { mode: 0o644 });
  }

  private updateIndex(change: (index: IndexEntry[]) => IndexEntry[]): Promise<void> {
    const next = this.writing.then(async () => {
      this.index = change(this.index);
      await this.writeIndex();
    });
    this.writing = next.catch(() => undefined);
    return next;
  }
}
