/**
 * A full disk (ENOSPC) or an exhausted quota (EDQUOT) as a person can act on it: the typed
 * error `disk.full` naming the file and the free space of its file system (statfs), not
 * a raw errno. Every writer that can fill a disk passes its errors through `explainWriteError`.
 */
import { statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import { AgentError } from '../../core/errors.js';

export function isDiskFull(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/** "1.5 MiB" */
export function formatBytes(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} bytes` : `${v.toFixed(1)} ${units[i]}`;
}

/** Free and total bytes of the file system holding `path` (its nearest existing ancestor). */
export async function freeSpace(path: string): Promise<{ free: number; total: number } | undefined> {
  for (let p = path; ; p = dirname(p)) {
    try {
      const s = await statfs(p);
      return { free: s.bavail * s.bsize, total: s.blocks * s.bsize };
    } catch {
      if (dirname(p) === p) return undefined;
    }
  }
}

/** The error to throw for `e`, raised while writing `path`: `disk.full` for ENOSPC/EDQUOT, else `e`. */
export async function explainWriteError(e: unknown, path: string): Promise<unknown> {
  if (!isDiskFull(e)) return e;
  const space = await freeSpace(path);
  const quota = (e as NodeJS.ErrnoException).code === 'EDQUOT';
  const room = space ? `${formatBytes(space.free)} free of ${formatBytes(space.total)}` : 'free space unknown';
  return new AgentError({
    code: 'disk.full',
    message: quota ? `the disk quota is exhausted (${room})` : `no space left on the file system (${room})`,
    subject: path,
    hint: `Free space on the file system of ${dirname(path)} (see df -h ${dirname(path)}), then try again`,
    cause: e,
  });
}
