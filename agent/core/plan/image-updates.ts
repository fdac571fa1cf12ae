/**
 * Container image auto-update, the decisions: is a discovered image newer than the one a
 * container runs (a new `latest`, or a higher SemVer of the same name), was it rolled back
 * before (never retried), may a container restart now (the `images.window`), and the record
 * kept per container — current, staged and previous image, the failed image IDs — with the
 * transitions between them:
 *
 *   stage:     a newer image is fetched and verified          → staged
 *   activate:  in the window, the container restarts on it    → current (on trial), previous = old current
 *   confirm:   it stayed active for the settle time            → current (trial over)
 *   roll back: it failed or did not become active             → failed += it, current = previous
 *              (the result keeps the container's last output lines, bounded)
 *
 * Invariants: an image ID in `failed` is never staged again; a record follows one
 * declaration (`declared`, the image as written): a new declaration starts a new record,
 * keeping only the failed IDs. Pure: no I/O.
 */
import { compareSemVer, parseSemVer } from '../appc/semver.js';
import { DEFAULT_VERSION } from '../appc/app-string.js';
import { utf8Encode } from '../config/encoding.js';
import { AgentError } from '../errors.js';
import { isInWindow } from '../schedule/periods.js';
import type { TimeZone } from '../schedule/timezone.js';
import type { Window } from '../schedule/window.js';

/** One image of a container: its ID and `version` label. */
export interface ImageRef {
  id: string;
  version?: string;
}

export interface FailedImage extends ImageRef {
  reason: string;
  at: string;
}

/** What the last pass did for a container. */
export type UpdateResult = 'up to date' | 'staged' | 'updated' | 'rolled back' | 'skipped' | 'error';

export interface ImageUpdateRecord {
  /** The image of the declaration this record follows, as written. */
  declared: string;
  /** The image the container is pinned to; absent: the declaration's own image. */
  current?: ImageRef;
  /** The image that ran before `current`: where a rollback goes. */
  previous?: ImageRef;
  /** Fetched and verified, waiting for the window. */
  staged?: ImageRef;
  /** `current` was just restarted on and is not confirmed yet (survives an agent restart). */
  trial?: boolean;
  failed: FailedImage[];
  last?: LastResult;
}

/** What the last pass did; a rollback keeps the last lines the failed container printed. */
export interface LastResult {
  result: UpdateResult;
  message: string;
  at: string;
  /** The container's last output lines on the rolled-back image (may hold secrets: root only). */
  output?: string[];
}

/** The bounds of a rollback's output: the last lines, at most this many and this many bytes (UTF-8). */
export const ROLLBACK_OUTPUT_LINES = 10;
export const ROLLBACK_OUTPUT_BYTES = 4096;

/**
 * Whether `candidate` (a `version` label) is newer than `current`: `latest` always is (the
 * caller compares IDs); a SemVer is when higher than a SemVer current, or when the current
 * version is not a SemVer (or unknown). Anything else is not.
 */
export function isNewerVersion(current: string | undefined, candidate: string | undefined): boolean {
  if (candidate === DEFAULT_VERSION) return true;
  if (candidate === undefined) return false;
  const next = parseSemVer(candidate);
  if (typeof next === 'string') return false;
  const now = current === undefined ? undefined : parseSemVer(current);
  if (now === undefined || typeof now === 'string') return true;
  return compareSemVer(next, now) > 0;
}

export function isFailedImage(record: ImageUpdateRecord, id: string): FailedImage | undefined {
  return record.failed.find((f) => f.id === id);
}

/** May containers restart now? Always, when no window is configured. */
export function windowOpen(window: Window | undefined, now: Date, zone: TimeZone): boolean {
  return window === undefined || isInWindow(window, now, zone);
}

export type UpdateDecision =
  | { kind: 'stage'; image: ImageRef }
  | { kind: 'none'; result: 'up to date' | 'skipped'; message: string };

function label(image: ImageRef): string {
  return `${image.version ?? '(no version)'} (${image.id.slice(0, 19)}…)`;
}

/**
 * What to do with the image discovery found, given what the container runs. `followsTag`
 * (OCI, podman's registry mode): the declared tag names the image to run, so another image
 * ID is the update whatever its version label (the tag, the same for both).
 */
export function decideUpdate(record: ImageUpdateRecord, running: ImageRef | undefined, found: ImageRef, followsTag = false): UpdateDecision {
  const current = record.current ?? running;
  if (current?.id === found.id || record.staged?.id === found.id) {
    return { kind: 'none', result: 'up to date', message: `${label(found)} is the newest` };
  }
  const failed = isFailedImage(record, found.id);
  if (failed) return { kind: 'none', result: 'skipped', message: `${label(found)} was rolled back at ${failed.at} (${failed.reason}): not retried` };
  if (!followsTag && !isNewerVersion(current?.version, found.version)) {
    return { kind: 'none', result: 'up to date', message: `${label(found)} is not newer than ${current ? label(current) : 'the running image'}` };
  }
  return { kind: 'stage', image: found };
}

/** A new record for `declared`, or `record` when it follows that declaration (failed IDs carry over). */
export function recordFor(record: ImageUpdateRecord | undefined, declared: string): ImageUpdateRecord {
  if (record?.declared === declared) return record;
  return { declared, failed: record?.failed ?? [] };
}

function guard(ok: boolean, transition: string, record: ImageUpdateRecord): void {
  if (ok) return;
  throw new AgentError({
    code: 'container.update-state',
    message: `cannot ${transition} from ${record.trial ? 'a trial' : record.staged ? 'a staged image' : 'no staged image'}`,
    subject: record.declared,
    hint: 'This is a bug in host-agent; the record is left as it was',
  });
}

export function stage(record: ImageUpdateRecord, image: ImageRef, message: string, at: string): ImageUpdateRecord {
  guard(!record.trial && isFailedImage(record, image.id) === undefined, 'stage an image', record);
  return { ...record, staged: image, last: { result: 'staged', message, at } };
}

/** The container is about to restart on the staged image; `running` is what it runs now. */
export function activate(record: ImageUpdateRecord, running: ImageRef | undefined): ImageUpdateRecord {
  guard(!record.trial && record.staged !== undefined, 'activate', record);
  const previous = record.current ?? running;
  const { staged, ...rest } = record;
  return { ...rest, current: staged!, ...(previous ? { previous } : {}), trial: true };
}

export function confirm(record: ImageUpdateRecord, message: string, at: string): ImageUpdateRecord {
  guard(record.trial === true, 'confirm', record);
  const { trial: _trial, ...rest } = record;
  return { ...rest, last: { result: 'updated', message, at } };
}

/**
 * The last lines of `lines` within ROLLBACK_OUTPUT_LINES and ROLLBACK_OUTPUT_BYTES: older
 * lines go first; a last line longer than the byte bound keeps its end.
 */
export function boundOutput(lines: readonly string[]): string[] {
  const kept: string[] = [];
  let bytes = 0;
  for (const line of lines.slice(-ROLLBACK_OUTPUT_LINES).reverse()) {
    const size = utf8Encode(line).length + 1;
    if (bytes + size > ROLLBACK_OUTPUT_BYTES) {
      if (kept.length === 0) kept.push(tailWithin(line, ROLLBACK_OUTPUT_BYTES - 1));
      break;
    }
    kept.push(line);
    bytes += size;
  }
  return kept.reverse();
}

/** The end of `line` within `bytes` UTF-8 bytes, whole characters only. */
function tailWithin(line: string, bytes: number): string {
  const chars = [...line];
  let size = 0;
  let start = chars.length;
  while (start > 0 && size + utf8Encode(chars[start - 1]!).length <= bytes) size += utf8Encode(chars[--start]!).length;
  return chars.slice(start).join('');
}

/**
 * The trial failed: the image goes to `failed`, the previous one becomes current again;
 * `output` (the container's last lines) is kept, bounded, with the result.
 */
export function rollBack(record: ImageUpdateRecord, reason: string, at: string, output: readonly string[] = []): ImageUpdateRecord {
  guard(record.trial === true && record.current !== undefined, 'roll back', record);
  const bad = record.current!;
  const { trial: _trial, previous, current: _current, ...rest } = record;
  return {
    ...rest,
    ...(previous ? { current: previous } : {}),
    failed: [...record.failed.filter((f) => f.id !== bad.id), { ...bad, reason, at }],
    last: {
      result: 'rolled back', message: `rolled back from ${label(bad)}${previous ? ` to ${label(previous)}` : ''}: ${reason}`, at,
      ...(output.length > 0 && { output: boundOutput(output) }),
    },
  };
}

/** The latest rollback among `records` (by container name), with its container. */
export function latestRollback(records: ReadonlyArray<[string, ImageUpdateRecord]>): { container: string; last: LastResult } | undefined {
  const rolled = records.filter(([, r]) => r.last?.result === 'rolled back').map(([container, r]) => ({ container, last: r.last! }));
  return rolled.sort((a, b) => b.last.at.localeCompare(a.last.at))[0];
}

export function noted(record: ImageUpdateRecord, result: UpdateResult, message: string, at: string): ImageUpdateRecord {
  return { ...record, last: { result, message, at } };
}

/** How the unit looks during the settle time. */
export interface SettleSample {
  activeState: string;
  nRestarts: number;
  execMainStatus: number;
}

/**
 * Why a container restarted on a new image is not healthy, or undefined while it is:
 * `final` is the last sample of the settle time (it must be active then).
 */
export function settleProblem(baseline: SettleSample, sample: SettleSample, final: boolean): string | undefined {
  const status = sample.execMainStatus !== 0 ? `, exit status ${sample.execMainStatus}` : '';
  if (sample.activeState === 'failed') return `the unit failed${status}`;
  if (sample.nRestarts > baseline.nRestarts) return `the unit restarted ${sample.nRestarts - baseline.nRestarts} time(s)${status}`;
  if (final && sample.activeState !== 'active') return `the unit did not become active (${sample.activeState}${status})`;
  return undefined;
}
