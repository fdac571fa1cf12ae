/**
 * Temporary directories for tests, removed when the test (or suite) ends.
 * Usage: `const dir = await tmpdir(t)` inside `test(…, async (t) => …)`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir as osTmpdir } from 'node:os';
import { join } from 'node:path';

interface HasAfter {
  after(fn: () => unknown): void;
}

export async function tmpdir(t: HasAfter, prefix = 'host-agent-test-'): Promise<string> {
  const dir = await mkdtemp(join(osTmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}
