/**
 * A small file system for disk-full tests: a tmpfs of `size` mounted on a fresh temp
 * directory (root only), unmounted and removed when the test ends; `fill` uses up its space.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, open, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

interface HasAfter {
  after(fn: () => unknown): void;
}

export async function smallFs(t: HasAfter, size: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'small-fs-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=755`, 'tmpfs', dir]);
  t.after(async () => {
    execFileSync('umount', [dir]);
    await rmdir(dir);
  });
  return dir;
}

/** Writes `<dir>/filler` until the file system has no free block left. */
export async function fill(dir: string): Promise<void> {
  const file = await open(join(dir, 'filler'), 'a');
  try {
    for (;;) await file.write(Buffer.alloc(1 << 20));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  } finally {
    await file.close();
  }
}
