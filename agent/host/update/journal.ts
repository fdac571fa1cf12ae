/**
 * The staging journal (`<stateDir>/staging.json`), rewritten atomically at each checkpoint:
 * which release goes into which slot (by PARTUUID), how many bytes are written, synced and
 * covered by `prefixSha512`, and whether the slot is already staged for the next boot.
 * A damaged journal (does not parse, or not in this shape) is moved aside with a warning
 * (../fs/state-file.ts) and treated as absent: the install restarts cleanly.
 */
import type { Release } from '../../core/update/release.js';
import { removeFileDurably, writeFileAtomic } from '../fs/atomic.js';
import { readStateFile, type Checked, type StateFileKind, type Warn } from '../fs/state-file.js';

export interface StagingJournal {
  phase: 'writing' | 'staged';
  version: string;
  /** Hex digest of the whole image from the release: its sha512, or its sha256 when it names only that (an Omaha offer). */
  sha512: string;
  size: number;
  /** PARTUUID of the slot being written. */
  partUuid: string;
  /** Bytes from the slot's start that were written and synced. */
  verifiedBytes: number;
  /** The same digest of those bytes, to check them before resuming. */
  prefixSha512: string;
  /** The release as signed, so a restarted agent can show what is staged (absent in older journals). */
  release?: Release;
}

function isJournal(j: unknown): j is StagingJournal {
  if (typeof j !== 'object' || j === null) return false;
  const o = j as Record<string, unknown>;
  return (
    (o.phase === 'writing' || o.phase === 'staged') &&
    typeof o.version === 'string' &&
    typeof o.sha512 === 'string' &&
    typeof o.partUuid === 'string' &&
    typeof o.prefixSha512 === 'string' &&
    Number.isSafeInteger(o.size) &&
    Number.isSafeInteger(o.verifiedBytes)
  );
}

/** Pure: `json` as the staging journal, refused unless every field has its type. */
export function checkJournal(json: unknown): Checked<StagingJournal> {
  return isJournal(json) ? { value: json } : { refused: 'it is not a staging journal' };
}

const JOURNAL: StateFileKind<StagingJournal> = {
  what: 'the staging journal of the OS update',
  instead: 'an install under way restarts from the beginning',
  check: checkJournal,
};

export async function readJournal(path: string, warn?: Warn): Promise<StagingJournal | undefined> {
  return readStateFile(path, JOURNAL, { ...(warn && { warn }) });
}

export function writeJournal(path: string, journal: StagingJournal): Promise<void> {
  return writeFileAtomic(path, `${JSON.stringify(journal, null, 2)}\n`, { mkdirs: true, mode: 0o600 });
}

export async function clearJournal(path: string): Promise<void> {
  await removeFileDurably(path);
}
