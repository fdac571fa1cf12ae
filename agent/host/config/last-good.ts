/**
 * The last good configuration: the texts of the files of the last configuration that
 * validated without errors, kept in one JSON file (written atomically, mode 0600: it may hold
 * password hashes and keys) so that a restarted agent validates and uses them again while the
 * files on disk are broken. The path is the caller's (e.g. /var/lib/host-agent/config/last-good.json).
 * A damaged file is moved aside with a warning (../fs/state-file.ts) and there is no last
 * good configuration until the next apply without errors saves one.
 */
import type { ConfigSource } from '../../core/config/validate.js';
import { writeFileAtomic } from '../fs/atomic.js';
import { isObject, readStateFile, type Checked, type StateFileKind, type Warn } from '../fs/state-file.js';

export interface LastGoodConfig {
  /** When it was saved, ISO 8601. */
  savedAt: string;
  /** The files, in merge order. */
  sources: ConfigSource[];
}

const FORMAT = 1;

/** Saves the files of a good configuration, replacing the previous one atomically. */
export async function saveLastGood(path: string, sources: readonly ConfigSource[], now: Date = new Date()): Promise<void> {
  const data = {
    format: FORMAT,
    savedAt: now.toISOString(),
    sources: sources.map((s) => (s.file === undefined ? { text: s.text } : { file: s.file, text: s.text })),
  };
  await writeFileAtomic(path, `${JSON.stringify(data, null, 1)}\n`, { mode: 0o600, mkdirs: true });
}

function isSource(value: unknown): value is ConfigSource {
  return isObject(value) && typeof value.text === 'string' && (value.file === undefined || typeof value.file === 'string');
}

/** Pure: `json` as the last good configuration, refused unless it is in this format with every file. */
export function checkLastGood(json: unknown): Checked<LastGoodConfig> {
  if (!isObject(json) || json.format !== FORMAT) return { refused: `it is not format ${FORMAT}` };
  if (typeof json.savedAt !== 'string') return { refused: 'savedAt is not a time' };
  if (!Array.isArray(json.sources) || !json.sources.every(isSource)) return { refused: 'sources is not a list of files' };
  // A partial configuration would be a different configuration: all files or none.
  return { value: { savedAt: json.savedAt, sources: json.sources } };
}

const LAST_GOOD: StateFileKind<LastGoodConfig> = {
  what: 'the last good configuration',
  instead: 'it is saved again after the next configuration applied without errors',
  check: checkLastGood,
};

/** The saved configuration, or undefined when none was saved yet (or it was damaged). */
export async function readLastGood(path: string, warn?: Warn): Promise<LastGoodConfig | undefined> {
  return readStateFile(path, LAST_GOOD, { ...(warn && { warn }) });
}
