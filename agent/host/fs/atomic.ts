/**
 * Atomic file writes: temp file in the same directory, fsync, rename, fsync the directory.
 * A crash at any instant leaves either the old content or the new, never a mix.
 * Temp names start with `.tmp-` so start-up clean-up (`removeTempLeftovers`) can find them.
 * A full disk fails with `disk.full` naming the file (./disk-full.ts), the old content intact.
 * `stageFile` splits a write in two (temp written, then renamed) for writers that must
 * write several files all or nothing: stage them all, then commit them all.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, rm, readdir, mkdir, chmod, chown } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { explainWriteError } from './disk-full.js';

export const TEMP_PREFIX = '.tmp-';

export interface AtomicWriteOptions {
  /** File mode of the result, default 0o644. */
  mode?: number;
  /** Owner to set before the rename (root only). */
  uid?: number;
  gid?: number;
  /** Create the parent directory (mode 0o755) when missing. */
  mkdirs?: boolean;
}

/** A temp path next to `path`, for writers that stream into it before `commitTemp`. */
export function tempPathFor(path: string): string {
  return join(dirname(path), `${TEMP_PREFIX}${basename(path)}.${randomBytes(6).toString('hex')}`);
}

/** fsync a directory so a rename inside it survives a crash. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Rename a finished temp file (or directory) over `path` and make the rename durable. */
export async function commitTemp(temp: string, path: string): Promise<void> {
  await rename(temp, path);
  await fsyncDir(dirname(path));
}

/** A file written to its temp, not yet in place. */
export interface StagedFile {
  readonly path: string;
  /** Sets the owner (when given here or when staged) and renames the temp over the path, durably. */
  commit(owner?: { uid: number; gid: number }): Promise<void>;
  /** Removes the temp; the file at the path is left as it was. */
  discard(): Promise<void>;
}

/**
 * Writes `data` to a temp file next to `path` (synced, with its final mode) without
 * touching `path`. ENOSPC/EDQUOT become `disk.full`; on any failure no temp is left.
 */
export async function stageFile(path: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): Promise<StagedFile> {
  const temp = tempPathFor(path);
  try {
    if (options.mkdirs) await mkdir(dirname(path), { recursive: true, mode: 0o755 });
    const handle = await open(temp, 'wx', options.mode ?? 0o644);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    // open() applies the umask; set the exact mode asked for.
    await chmod(temp, options.mode ?? 0o644);
  } catch (e) {
    await rm(temp, { force: true });
    throw await explainWriteError(e, path);
  }
  return {
    path,
    commit: async (owner) => {
      try {
        const uid = owner?.uid ?? options.uid;
        const gid = owner?.gid ?? options.gid;
        if (uid !== undefined || gid !== undefined) await chown(temp, uid ?? -1, gid ?? -1);
        await commitTemp(temp, path);
      } catch (e) {
        await rm(temp, { force: true });
        throw await explainWriteError(e, path);
      }
    },
    discard: () => rm(temp, { force: true }),
  };
}

/** Write `data` to `path` atomically. */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<void> {
  await (await stageFile(path, data, options)).commit();
}

/** Remove a file and make the removal durable; a missing file is not an error. */
export async function removeFileDurably(path: string): Promise<boolean> {
  try {
    await rm(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
  await fsyncDir(dirname(path));
  return true;
}

/** Remove temp leftovers of interrupted writes in `dir` (not recursive). Returns their names. */
export async function removeTempLeftovers(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const leftovers = names.filter((n) => n.startsWith(TEMP_PREFIX));
  await Promise.all(leftovers.map((n) => rm(join(dir, n), { recursive: true, force: true })));
  return leftovers;
}
