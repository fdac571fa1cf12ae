/**
 * Versions that failed on this host (health check or boot), kept in
 * `<stateDir>/failed-versions.json` and written atomically, so they are never installed again.
 * A damaged file is moved aside with a warning (../fs/state-file.ts): entries that are not
 * version strings are dropped and the rest kept; a file that is not `{"versions": [...]}`
 * becomes an empty list (a version that fails again is recorded again).
 */
import { writeFileAtomic } from '../fs/atomic.js';
import { isObject, keepValid, readStateFile, type Checked, type StateFileKind, type Warn } from '../fs/state-file.js';

function format(versions: string[]): string {
  return `${JSON.stringify({ versions }, null, 2)}\n`;
}

const isVersion = (v: unknown): v is string => typeof v === 'string' && v !== '';

/** Pure: `json` as failed-versions.json; entries that are not version strings are dropped. */
export function checkFailedVersions(json: unknown): Checked<string[]> {
  if (!isObject(json) || !Array.isArray(json.versions)) return { refused: 'it is not {"versions": [...]}' };
  const { kept, dropped } = keepValid(json.versions, isVersion, 'versions');
  return dropped === undefined ? { value: kept } : { value: kept, dropped };
}

const FAILED_VERSIONS: StateFileKind<string[]> = {
  what: 'the list of OS versions that failed on this host',
  instead: 'it starts empty: a version that fails again is recorded again',
  check: checkFailedVersions,
  format,
};

export async function readFailedVersions(path: string, warn?: Warn): Promise<string[]> {
  return (await readStateFile(path, FAILED_VERSIONS, { ...(warn && { warn }) })) ?? [];
}

/** Add `version` to the list (once). */
export async function recordFailedVersion(path: string, version: string, warn?: Warn): Promise<void> {
  const versions = await readFailedVersions(path, warn);
  if (versions.includes(version)) return;
  await writeFileAtomic(path, format([...versions, version]), { mkdirs: true, mode: 0o644 });
}
