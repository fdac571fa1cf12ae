/**
 * The OS update state machine: one discriminated union of states (update_engine's status
 * names) and one function per transition. Each transition asserts the states it may start
 * from (`TRANSITIONS`, also drawn in docs/update-fsm.dot) and returns a new state; nothing
 * is mutated. Retry counters live inside the states that retry.
 */
import { AgentError } from '../errors.js';
import type { Release } from './release.js';

export const UPDATE_STATES = [
  'IDLE',
  'CHECKING_FOR_UPDATE',
  'UPDATE_AVAILABLE',
  'DOWNLOADING',
  'VERIFYING',
  'FINALIZING',
  'UPDATED_NEED_REBOOT',
  'REPORTING_ERROR_EVENT',
] as const;
export type UpdateStateKind = (typeof UPDATE_STATES)[number];

/** Check attempts (the first included) before a check is reported as failed. */
export const MAX_CHECK_ATTEMPTS = 3;
/** Download attempts (the first included) before an install is reported as failed. */
export const MAX_DOWNLOAD_ATTEMPTS = 3;

/** What every state carries: when the channel last answered, failures in a row. */
interface Common {
  /** Milliseconds since the epoch of the last completed check; 0 = never. */
  lastChecked: number;
  /** Attempts in a row that ended in REPORTING_ERROR_EVENT; reset by a success. */
  failures: number;
}

/** The slot being written, as the slots module names it. */
export type TargetSlot = 'A' | 'B';

export interface ReportedError {
  code: string;
  message: string;
}

export type UpdateState = Common &
  (
    | { kind: 'IDLE' }
    | { kind: 'CHECKING_FOR_UPDATE'; attempt: number }
    | { kind: 'UPDATE_AVAILABLE'; release: Release }
    | { kind: 'DOWNLOADING'; release: Release; target: TargetSlot; bytesDone: number; resumedFrom: number; attempt: number }
    | { kind: 'VERIFYING'; release: Release; target: TargetSlot }
    | { kind: 'FINALIZING'; release: Release; target: TargetSlot }
    | { kind: 'UPDATED_NEED_REBOOT'; release: Release; target: TargetSlot }
    | { kind: 'REPORTING_ERROR_EVENT'; error: ReportedError; during: UpdateStateKind; release?: Release }
  );

export type StateOf<K extends UpdateStateKind> = Extract<UpdateState, { kind: K }>;

/** Every transition: the states it starts from and those it may lead to. */
export const TRANSITIONS = {
  checkStarted: { from: ['IDLE', 'UPDATE_AVAILABLE'], to: ['CHECKING_FOR_UPDATE'] },
  checkFailed: { from: ['CHECKING_FOR_UPDATE'], to: ['CHECKING_FOR_UPDATE', 'REPORTING_ERROR_EVENT'] },
  noUpdateFound: { from: ['CHECKING_FOR_UPDATE'], to: ['IDLE'] },
  updateFound: { from: ['CHECKING_FOR_UPDATE'], to: ['UPDATE_AVAILABLE'] },
  downloadStarted: { from: ['UPDATE_AVAILABLE'], to: ['DOWNLOADING'] },
  downloadProgressed: { from: ['DOWNLOADING'], to: ['DOWNLOADING'] },
  downloadFailed: { from: ['DOWNLOADING'], to: ['DOWNLOADING', 'REPORTING_ERROR_EVENT'] },
  downloadFinished: { from: ['DOWNLOADING'], to: ['VERIFYING'] },
  verified: { from: ['VERIFYING'], to: ['FINALIZING'] },
  finalized: { from: ['FINALIZING'], to: ['UPDATED_NEED_REBOOT'] },
  failed: {
    from: ['CHECKING_FOR_UPDATE', 'UPDATE_AVAILABLE', 'DOWNLOADING', 'VERIFYING', 'FINALIZING'],
    to: ['REPORTING_ERROR_EVENT'],
  },
  errorReported: { from: ['REPORTING_ERROR_EVENT'], to: ['IDLE'] },
  reset: { from: ['UPDATED_NEED_REBOOT'], to: ['IDLE'] },
  restoredStaged: { from: ['IDLE'], to: ['UPDATED_NEED_REBOOT'] },
} as const satisfies Record<string, { from: readonly UpdateStateKind[]; to: readonly UpdateStateKind[] }>;

export type TransitionName = keyof typeof TRANSITIONS;
type From<T extends TransitionName> = StateOf<(typeof TRANSITIONS)[T]['from'][number]>;

/** Narrow `state` to the source states of `transition`, or throw `update.bad-transition`. */
export function assertFrom<T extends TransitionName>(state: UpdateState, transition: T): From<T> {
  const allowed: readonly UpdateStateKind[] = TRANSITIONS[transition].from;
  if (!allowed.includes(state.kind)) {
    throw new AgentError({
      code: 'update.bad-transition',
      message: `${transition} is not allowed in state ${state.kind} (only from ${allowed.join(', ')})`,
      subject: 'update engine',
      hint: 'Wait for the current operation to finish (see `agentctl update status`), or reset it',
    });
  }
  return state as From<T>;
}

function common(s: UpdateState): Common {
  return { lastChecked: s.lastChecked, failures: s.failures };
}

export const initialState: UpdateState = { kind: 'IDLE', lastChecked: 0, failures: 0 };

/** A check begins (again, when an update found earlier was not applied yet). */
export function checkStarted(s: UpdateState): UpdateState {
  return { ...common(assertFrom(s, 'checkStarted')), kind: 'CHECKING_FOR_UPDATE', attempt: 1 };
}

/** A check attempt failed: try again while attempts are left, else report. */
export function checkFailed(s: UpdateState, error: ReportedError): UpdateState {
  const from = assertFrom(s, 'checkFailed');
  if (from.attempt < MAX_CHECK_ATTEMPTS) return { ...from, attempt: from.attempt + 1 };
  return failed(from, error);
}

export function noUpdateFound(s: UpdateState, now: number): UpdateState {
  assertFrom(s, 'noUpdateFound');
  return { kind: 'IDLE', lastChecked: now, failures: 0 };
}

export function updateFound(s: UpdateState, release: Release, now: number): UpdateState {
  const from = assertFrom(s, 'updateFound');
  return { kind: 'UPDATE_AVAILABLE', lastChecked: now, failures: from.failures, release };
}

/** Writing starts into `target`; `resumedFrom` bytes were already there and verified. */
export function downloadStarted(s: UpdateState, target: TargetSlot, resumedFrom: number): UpdateState {
  const from = assertFrom(s, 'downloadStarted');
  return { ...common(from), kind: 'DOWNLOADING', release: from.release, target, bytesDone: resumedFrom, resumedFrom, attempt: 1 };
}

export function downloadProgressed(s: UpdateState, bytesDone: number): UpdateState {
  const from = assertFrom(s, 'downloadProgressed');
  return { ...from, bytesDone: Math.min(bytesDone, from.release.payload.size) };
}

/** A download attempt broke off: resume from `resumeFrom` while attempts are left, else report. */
export function downloadFailed(s: UpdateState, error: ReportedError, resumeFrom: number): UpdateState {
  const from = assertFrom(s, 'downloadFailed');
  if (from.attempt < MAX_DOWNLOAD_ATTEMPTS) {
    return { ...from, attempt: from.attempt + 1, bytesDone: resumeFrom, resumedFrom: resumeFrom };
  }
  return failed(from, error);
}

export function downloadFinished(s: UpdateState): UpdateState {
  const from = assertFrom(s, 'downloadFinished');
  return { ...common(from), kind: 'VERIFYING', release: from.release, target: from.target };
}

export function verified(s: UpdateState): UpdateState {
  const from = assertFrom(s, 'verified');
  return { ...common(from), kind: 'FINALIZING', release: from.release, target: from.target };
}

export function finalized(s: UpdateState): UpdateState {
  const from = assertFrom(s, 'finalized');
  return { lastChecked: from.lastChecked, failures: 0, kind: 'UPDATED_NEED_REBOOT', release: from.release, target: from.target };
}

/** Any step of a check or an install failed for good. */
export function failed(s: UpdateState, error: ReportedError): UpdateState {
  const from = assertFrom(s, 'failed');
  return {
    lastChecked: from.lastChecked,
    failures: from.failures + 1,
    kind: 'REPORTING_ERROR_EVENT',
    error,
    during: from.kind,
    ...('release' in from && { release: from.release }),
  };
}

export function errorReported(s: UpdateState): UpdateState {
  const from = assertFrom(s, 'errorReported');
  return { ...common(from), kind: 'IDLE' };
}

/** Forget a staged update (the slot change is undone by the adapter). */
export function reset(s: UpdateState): UpdateState {
  return { ...common(assertFrom(s, 'reset')), kind: 'IDLE' };
}

/**
 * At start, the staging journal says a release is staged for the next boot (an earlier
 * agent staged it and the host has not rebooted yet): the engine is where it left off.
 */
export function restoredStaged(s: UpdateState, release: Release, target: TargetSlot): UpdateState {
  return { ...common(assertFrom(s, 'restoredStaged')), kind: 'UPDATED_NEED_REBOOT', release, target };
}

/** Whether an operation is under way (a new check or install must wait). */
export function isBusy(s: UpdateState): boolean {
  return s.kind !== 'IDLE' && s.kind !== 'UPDATED_NEED_REBOOT';
}
