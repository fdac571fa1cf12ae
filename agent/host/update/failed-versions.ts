/**
 * Versions that failed on this host (health check or boot), kept in
 * `<stateDir>/failed-versions.json` and written atomically, so they are never installed again.
 */
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../fs/atomic.js';

export async function readFailedVersions(path: string): Promise<string[]> {
  try {
    const j: unknown = JSON.parse(await readFile(path, 'utf8'));
    const versions = (j as { versions?: unknown }).versions;
    return Array.isArray(versions) ? versions.filter((v): v is string => typeof v === 'string') : [];
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

/** Add `version` to the list (once). */
export async function recordFailedVersion(path: string, version: string): Promise<void> {
  const versions = await readFailedVersions(path);
  if (versions.includes(version)) return;
  await writeFileAtomic(path, `${JSON.stringify({ versions: [...versions, version] }, null, 2)}\n`, { mkdirs: true, mode: 0o644 });
}
