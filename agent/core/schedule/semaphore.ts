/**
 * The locksmith reboot semaphore as a value: its etcd key, its JSON form and the changes
 * `lock`, `unlock` and `setMax` make to it. Storage (compare-and-swap in etcd) lives in
 * agent/host/lock; this module only says what the next value is. Pure: no I/O.
 *
 * The value is `{"semaphore":N,"max":M,"holders":[ids]}`: `semaphore` counts free slots,
 * `holders` is kept sorted, `null` holders (as locksmith writes a fresh value) mean none.
 */

export const SEMAPHORE_KEY_PREFIX = 'coreos.com/updateengine/rebootlock';

export interface Semaphore {
  /** Free slots; may be negative after `setMax` lowered max below the holder count. */
  semaphore: number;
  max: number;
  holders: string[];
}

/** A fresh semaphore, as locksmith creates it: one slot, free. */
export function initialSemaphore(): Semaphore {
  return { semaphore: 1, max: 1, holders: [] };
}

/** Go's url.QueryEscape, which locksmith applies to group names in the key. */
function queryEscape(text: string): string {
  return encodeURIComponent(text)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+');
}

/** The etcd key of the semaphore for `group` (the default one when group is empty). */
export function semaphoreKey(group?: string): string {
  return group
    ? `${SEMAPHORE_KEY_PREFIX}/groups/${queryEscape(group)}/semaphore`
    : `${SEMAPHORE_KEY_PREFIX}/semaphore`;
}

/** Parse a stored value; a string says why it is not a semaphore (never guess a repair). */
export function parseSemaphore(text: string): Semaphore | string {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return 'the value is not JSON';
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return 'the value is not a JSON object';
  const { semaphore, max, holders } = raw as Record<string, unknown>;
  if (!Number.isSafeInteger(semaphore)) return '"semaphore" is not an integer';
  if (!Number.isSafeInteger(max) || (max as number) < 0) return '"max" is not an integer >= 0';
  if (holders !== null && holders !== undefined &&
      !(Array.isArray(holders) && holders.every((h) => typeof h === 'string' && h !== ''))) {
    return '"holders" is not a list of ids';
  }
  const list = (holders ?? []) as string[];
  if (new Set(list).size !== list.length) return '"holders" lists an id twice';
  return { semaphore: semaphore as number, max: max as number, holders: [...list].sort() };
}

export function formatSemaphore(s: Semaphore): string {
  return JSON.stringify({ semaphore: s.semaphore, max: s.max, holders: s.holders });
}

/** The outcome of a change: the new value, or why nothing changes. */
export type SemaphoreChange =
  | { kind: 'changed'; next: Semaphore }
  | { kind: 'already-held' }
  | { kind: 'not-held' }
  | { kind: 'full' };

export function lockSemaphore(s: Semaphore, id: string): SemaphoreChange {
  if (s.holders.includes(id)) return { kind: 'already-held' };
  if (s.semaphore <= 0) return { kind: 'full' };
  return { kind: 'changed', next: { ...s, semaphore: s.semaphore - 1, holders: [...s.holders, id].sort() } };
}

export function unlockSemaphore(s: Semaphore, id: string): SemaphoreChange {
  if (!s.holders.includes(id)) return { kind: 'not-held' };
  return {
    kind: 'changed',
    next: { ...s, semaphore: s.semaphore + 1, holders: s.holders.filter((h) => h !== id) },
  };
}

/** Set the number of slots, keeping the holders (free slots may go below zero). */
export function setSemaphoreMax(s: Semaphore, max: number): Semaphore {
  return { ...s, semaphore: s.semaphore + (max - s.max), max };
}
