/**
 * The last good configuration: the texts of the files of the last configuration that
 * validated without errors, kept in one JSON file (written atomically, mode 0600: it may hold
 * password hashes and keys) so that a restarted agent validates and uses them again while the
 * files on disk are broken. The path is the caller's (e.g. /var/lib/host-agent/last-good-config.json).
 */
import { readFile } from 'node:fs/promises';
import { AgentError } from '../../core/errors.js';
import type { ConfigSource } from '../../core/config/validate.js';
import { writeFileAtomic } from '../fs/atomic.js';

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
  const s = value as Partial<ConfigSource> | null;
  return typeof s === 'object' && s !== null && typeof s.text === 'string' && (s.file === undefined || typeof s.file === 'string');
}

/** The saved configuration, or undefined when none was saved yet. */
export async function readLastGood(path: string): Promise<LastGoodConfig | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new AgentError({
      code: 'config.last-good-unreadable', message: 'cannot read the last good configuration', subject: path,
      hint: 'Check the permissions of the file', cause: e,
    });
  }
  let data: { format?: unknown; savedAt?: unknown; sources?: unknown } | null | undefined;
  try {
    data = JSON.parse(text) as typeof data;
  } catch {
    data = undefined;
  }
  if (data?.format !== FORMAT || typeof data.savedAt !== 'string' || !Array.isArray(data.sources) || !data.sources.every(isSource)) {
    throw new AgentError({
      code: 'config.last-good-corrupt', message: 'the last good configuration is not in the expected format', subject: path,
      hint: 'Remove the file; the agent saves it again after the next configuration without errors',
    });
  }
  return { savedAt: data.savedAt, sources: data.sources };
}
