/**
 * The content-addressed image store under `<stateDir>/images`:
 *
 *   images/<id>/manifest      the image manifest, as in the archive
 *   images/<id>/rootfs/       the extracted tree, shared read-only by containers
 *   images/<id>/meta.json     name, labels, size, imported, last used, source, signer
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
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { AgentError } from '../../core/errors.js';
import type { Label } from '../../core/appc/manifest.js';
import { commitTemp, fsyncDir, removeTempLeftovers, TEMP_PREFIX, writeFileAtomic } from '../fs/atomic.js';
import { isLock, tryLock, type OwnerLock } from '../fs/owner-lock.js';
import { FetchMemo } from './fetch-memo.js';

export interface StorePaths {
  /** The agent's state directory, default `/var/lib/host-agent`. */
  stateDir: string;
  /** How long to wait for another process to let go of the store; default 0 (do not wait). */
  lockWaitMs?: number;
}

export interface ImageInfo {
  /** `sha512-<hex of the uncompressed tar>`. */
  id: string;
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

const ID = /^sha512-[0-9a-f]{128}$/;

function notFound(ref: string): AgentError {
  return new AgentError({
    code: 'image.not-in-store',
    message: 'no such image in the store',
    subject: ref,
    hint: 'See the stored images with `agentctl image list`, or fetch it with `agentctl fetch`',
  });
}

async function lockStore(dir: string, waitMs: number): Promise<OwnerLock> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const result = await tryLock(join(dir, '.lock'));
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

  private constructor(paths: StorePaths, private readonly lock: OwnerLock) {
    this.dir = join(paths.stateDir, 'images');
    this.fetched = new FetchMemo(this.dir);
  }

  /**
   * Opens the store for this process: takes its lock (waiting up to `lockWaitMs` for
   * another holder), removes temp leftovers of interrupted work, reconciles the index.
   */
  static async open(paths: StorePaths): Promise<ImageStore> {
    const dir = join(paths.stateDir, 'images');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const store = new ImageStore(paths, await lockStore(dir, paths.lockWaitMs ?? 0));
    await removeTempLeftovers(store.dir);
    const images = await store.list();
    for (const image of images) await removeTempLeftovers(store.imageDir(image.id));
    const indexed = await store.readIndex();
    const present = new Set(images.map((i) => i.id));
    const kept = indexed.filter((e) => present.has(e.id));
    for (const image of images) {
      if (!kept.some((e) => e.id === image.id)) kept.push({ name: image.name, labels: image.labels, id: image.id });
    }
    store.index = kept;
    if (kept.length !== indexed.length || kept.some((e, i) => e !== indexed[i])) await store.writeIndex();
    return store;
  }

  /** Lets go of the store (another process may open it). */
  async close(): Promise<void> {
    await this.lock.release();
  }

  imageDir(id: string): string {
    return join(this.dir, id);
  }

  rootfs(id: string): string {
    return join(this.dir, id, 'rootfs');
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
   * Finds an image by full ID, by an ID prefix (`sha512-` and at least 8 hex digits), or by
   * name and labels (the latest import whose labels include all the given ones).
   */
  async get(ref: string, labels: Label[] = []): Promise<ImageInfo> {
    if (ref.startsWith('sha512-')) {
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
    try {
      return JSON.parse(await readFile(join(this.imageDir(id), 'meta.json'), 'utf8')) as ImageInfo;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  private async readIndex(): Promise<IndexEntry[]> {
    try {
      const parsed = JSON.parse(await readFile(join(this.dir, 'index.json'), 'utf8')) as { images?: IndexEntry[] };
      return Array.isArray(parsed.images) ? parsed.images : [];
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' || e instanceof SyntaxError) return [];
      throw e;
    }
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
