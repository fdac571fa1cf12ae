/**
 * What the Omaha client keeps across boots (`<stateDir>/omaha.json`, written atomically):
 * the first version installed on this host (`alephversion`), and, once an update is staged,
 * the version it replaces and the boot it was staged in, so that the first check of a later
 * boot reports 3/2 with `previousversion` (or 3/0 errorcode 44 when the host still runs it).
 */
import { writeFileAtomic } from '../fs/atomic.js';
import { isObject, readStateFile, type Checked, type StateFileKind, type Warn } from '../fs/state-file.js';

export interface OmahaState {
  alephVersion: string;
  /** Set when an update is staged: the version running then and the boot it ran in. */
  staged?: { previousVersion: string; bootId: string };
}

/** Pure: `json` as the Omaha state, refused unless its fields have their types. */
export function checkOmahaState(json: unknown): Checked<OmahaState> {
  if (!isObject(json) || typeof json.alephVersion !== 'string') return { refused: 'it is not the Omaha client state' };
  const staged = json.staged;
  if (staged === undefined) return { value: { alephVersion: json.alephVersion } };
  if (!isObject(staged) || typeof staged.previousVersion !== 'string' || typeof staged.bootId !== 'string') {
    return { value: { alephVersion: json.alephVersion }, dropped: 'a damaged record of the staged update' };
  }
  return { value: { alephVersion: json.alephVersion, staged: { previousVersion: staged.previousVersion, bootId: staged.bootId } } };
}

const format = (state: OmahaState): string => `${JSON.stringify(state, null, 2)}\n`;

const KIND: StateFileKind<OmahaState> = {
  what: 'the Omaha client state',
  instead: 'the running version counts as the first installed one, and no after-reboot event is sent',
  check: checkOmahaState,
  format,
};

export function readOmahaState(path: string, warn?: Warn): Promise<OmahaState | undefined> {
  return readStateFile(path, KIND, { ...(warn && { warn }) });
}

export function writeOmahaState(path: string, state: OmahaState): Promise<void> {
  return writeFileAtomic(path, format(state), { mkdirs: true });
}
