/**
 * The OS update engine: drives the pure state machine (agent/core/update/machine.ts) with
 * the channel and the stager. One operation at a time; every state change is passed to
 * `onChange` (the D-Bus service turns it into a status signal). Transient network failures
 * are retried inside CHECKING_FOR_UPDATE and DOWNLOADING (a download resumes from the
 * journal); anything else goes through REPORTING_ERROR_EVENT back to IDLE and is rethrown.
 */
import { AgentError, isAgentError } from '../../core/errors.js';
import {
  checkFailed,
  checkStarted,
  downloadFailed,
  downloadFinished,
  downloadProgressed,
  downloadStarted,
  errorReported,
  failed,
  finalized,
  initialState,
  isBusy,
  noUpdateFound,
  reset,
  restoredStaged,
  TRANSITIONS,
  updateFound,
  verified,
  type ReportedError,
  type UpdateState,
} from '../../core/update/machine.js';
import { assertNotExpired, imageDigest } from '../../core/update/release.js';
import { updateStatus, type UpdateStatus } from '../../core/update/status.js';
import { removeFileDurably } from '../fs/atomic.js';
import { readBootedSlot } from '../slots/booted.js';
import { otherSlot, updateSlotAttributes } from '../slots/slots.js';
import { releaseChannel, type SignedRelease, type UpdateChannel, type VerifySignature } from './channel.js';
import { readFailedVersions } from './failed-versions.js';
import type { HttpOptions } from '../net/http.js';
import { clearJournal, readJournal } from './journal.js';
import type { Warn } from '../fs/state-file.js';
import { resolveUpdatePaths, type UpdatePathOptions, type UpdatePaths } from './paths.js';
import { isStagedForNextBoot, stageRelease, type StageResult } from './stage.js';

export interface UpdateEngineOptions extends UpdatePathOptions {
  /** Update server base URL (coreos.update.server). */
  server: string;
  /** Release group (coreos.update.group). */
  group: string;
  /** The OS version now running (from os-release). */
  currentVersion: string;
  /** Checks release.json.asc against the update keyring (agent/host/trust). */
  verifySignature: VerifySignature;
  /** Where releases come from; default the signed release.json channel of `server` and `group`. */
  channel?: UpdateChannel;
  http?: HttpOptions;
  /** fsync + journal interval while writing; default 64 MiB. */
  checkpointBytes?: number;
  /** Bytes per write; default 1 MiB. */
  chunkBytes?: number;
  xzPath?: string;
  /** Wait before retry n is `retryDelayMs * n`; default 2000. */
  retryDelayMs?: number;
  /** Clock, for tests; default Date.now. */
  now?: () => number;
  /** Called after every state change. */
  onChange?: (state: UpdateState, status: UpdateStatus) => void;
  /** Where warnings about damaged state files go (../fs/state-file.ts); default stderr. */
  warn?: Warn;
}

export interface CheckOptions {
  /** Take an older version than the running one (never the same, never a failed one). */
  allowDowngrade?: boolean;
  /** Cancels the operation's downloads and retry waits (`update.cancelled`). */
  signal?: AbortSignal;
}

/** What the last check found on the channel and did not take, and why. */
export interface RefusedRelease {
  version: string;
  reason: 'not-newer' | 'same' | 'failed-before';
}

export type ApplyOptions = Pick<CheckOptions, 'signal'>;

function report(e: unknown): ReportedError {
  return isAgentError(e) ? { code: e.code, message: e.message } : { code: 'update.internal', message: e instanceof Error ? e.message : String(e) };
}

function transient(e: unknown): boolean {
  return isAgentError(e, 'update.fetch-failed');
}

function cancelled(): AgentError {
  return new AgentError({ code: 'update.cancelled', message: 'the update was cancelled', subject: 'update engine', hint: 'A partial download resumes on the next apply' });
}

/** Wait `ms`, or throw `update.cancelled` when `signal` fires first. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(cancelled());
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(cancelled());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export class UpdateEngine {
  readonly paths: UpdatePaths;
  #state: UpdateState = initialState;
  #available: SignedRelease | undefined;
  #refused: RefusedRelease | undefined;
  readonly #channel: UpdateChannel;

  constructor(private readonly options: UpdateEngineOptions) {
    this.paths = resolveUpdatePaths(options);
    this.#channel = options.channel ?? releaseChannel(options);
  }

  get state(): UpdateState {
    return this.#state;
  }

  get status(): UpdateStatus {
    return updateStatus(this.#state);
  }

  /** The release the last completed check refused, if it refused one. */
  get refused(): RefusedRelease | undefined {
    return this.#refused;
  }

  /** The engine's HTTP options with `signal` joined to its own (agentd stopping). */
  #http(signal: AbortSignal | undefined): HttpOptions | undefined {
    const own = this.options.http?.signal;
    if (!signal) return this.options.http;
    return { ...this.options.http, signal: own ? AbortSignal.any([own, signal]) : signal };
  }

  #go(next: UpdateState): void {
    this.#channel.observe?.(this.#state, next);
    this.#state = next;
    this.options.onChange?.(next, updateStatus(next));
  }

  /** Leave through REPORTING_ERROR_EVENT → IDLE and rethrow. */
  #fail(e: unknown, alreadyReported = false): never {
    if (!alreadyReported && (TRANSITIONS.failed.from as readonly string[]).includes(this.#state.kind)) this.#go(failed(this.#state, report(e)));
    if (this.#state.kind === 'REPORTING_ERROR_EVENT') this.#go(errorReported(this.#state));
    throw e;
  }

  /**
   * At start: a release an earlier agent staged, which the host has not booted yet, puts
   * the engine back in UPDATED_NEED_REBOOT (so status, reset and reboots see it).
   */
  async restore(): Promise<void> {
    if (this.#state.kind !== 'IDLE') return;
    const journal = await readJournal(this.paths.journalPath, this.options.warn);
    if (!journal?.release) return;
    const { booted, slots } = await readBootedSlot(this.paths);
    if (isStagedForNextBoot(journal, slots, booted)) this.#go(restoredStaged(this.#state, journal.release, otherSlot(booted)));
  }

  /** Ask the channel for a newer release; returns it when there is one to install. */
  async check(options: CheckOptions = {}): Promise<SignedRelease | undefined> {
    if (this.#state.kind === 'UPDATED_NEED_REBOOT') return undefined;
    if (isBusy(this.#state) && this.#state.kind !== 'UPDATE_AVAILABLE') {
      throw new AgentError({ code: 'update.busy', message: `cannot check while ${this.#state.kind}`, subject: 'update engine', hint: 'Wait for the current operation to finish' });
    }
    this.#go(checkStarted(this.#state));
    const now = this.options.now ?? Date.now;
    for (;;) {
      try {
        const answer = await this.#channel.check({
          http: this.#http(options.signal),
          now,
          currentVersion: this.options.currentVersion,
          failedVersions: await readFailedVersions(this.paths.failedVersionsPath, this.options.warn),
          allowDowngrade: options.allowDowngrade,
        });
        this.#available = answer.available;
        this.#refused = answer.available || !answer.offered ? undefined : { version: answer.offered.release.version, reason: answer.decision.reason };
        this.#go(answer.available ? updateFound(this.#state, answer.available.release, now()) : noUpdateFound(this.#state, now()));
        return answer.available;
      } catch (e) {
        if (!transient(e)) this.#fail(e);
        this.#go(checkFailed(this.#state, report(e)));
        const s = this.state;
        if (s.kind !== 'CHECKING_FOR_UPDATE') this.#fail(e, true);
        else await sleep((this.options.retryDelayMs ?? 2000) * (s.attempt - 1), options.signal).catch((c: unknown) => this.#fail(c));
      }
    }
  }

  /** Stage the release found by `check` into the inactive slot. */
  async apply(options: ApplyOptions = {}): Promise<StageResult> {
    const signed = this.#available;
    if (this.#state.kind !== 'UPDATE_AVAILABLE' || !signed) {
      throw new AgentError({ code: 'update.nothing-to-apply', message: `no update is available (state ${this.#state.kind})`, subject: 'update engine', hint: 'Run a check first (agentctl update check)' });
    }
    try {
      assertNotExpired(signed.release, (this.options.now ?? Date.now)(), signed.payloadUrl);
    } catch (e) {
      this.#available = undefined;
      this.#fail(e);
    }
    const channel = this.#channel;
    for (;;) {
      try {
        const http = this.#http(options.signal);
        const result = await stageRelease(signed, {
          paths: this.paths,
          http,
          ...(channel.verifyWritten && { verifyWritten: (read) => channel.verifyWritten!(signed, read, http) }),
          checkpointBytes: this.options.checkpointBytes,
          chunkBytes: this.options.chunkBytes,
          xzPath: this.options.xzPath,
          onStart: (target, resumedFrom) =>
            this.#go(this.#state.kind === 'DOWNLOADING' ? downloadProgressed(this.#state, resumedFrom) : downloadStarted(this.#state, target, resumedFrom)),
          onProgress: (bytes) => this.#go(downloadProgressed(this.#state, bytes)),
          onVerifying: () => this.#go(downloadFinished(this.#state)),
          onFinalizing: () => this.#go(verified(this.#state)),
        });
        if (result.alreadyStaged) {
          this.#go(downloadStarted(this.#state, result.target, result.resumedFrom));
          this.#go(verified(downloadFinished(this.#state)));
        }
        this.#go(finalized(this.#state));
        this.#available = undefined;
        return result;
      } catch (e) {
        if (!transient(e) || this.state.kind !== 'DOWNLOADING') this.#fail(e);
        const journal = await readJournal(this.paths.journalPath, this.options.warn);
        const resumeFrom = journal?.sha512 === imageDigest(signed.release).hex ? journal.verifiedBytes : 0;
        this.#go(downloadFailed(this.#state, report(e), resumeFrom));
        const s = this.state;
        if (s.kind !== 'DOWNLOADING') this.#fail(e, true);
        else await sleep((this.options.retryDelayMs ?? 2000) * (s.attempt - 1), options.signal).catch((c: unknown) => this.#fail(c));
      }
    }
  }

  /** Check, and stage what the check found. */
  async update(options: CheckOptions = {}): Promise<StageResult | undefined> {
    return (await this.check(options)) ? this.apply(options) : undefined;
  }

  /** Forget a staged update: the target is made unbootable again and no reboot is needed. */
  async reset(): Promise<void> {
    const s = this.#state;
    if (s.kind !== 'UPDATED_NEED_REBOOT') {
      this.#go(reset(s)); // throws update.bad-transition
      return;
    }
    const { booted } = await readBootedSlot(this.paths);
    await updateSlotAttributes(this.paths.disk, { [s.target]: { priority: 0, tries: 0, successful: false } }, booted);
    await clearJournal(this.paths.journalPath);
    await removeFileDurably(this.paths.rebootRequiredPath);
    this.#go(reset(s));
  }
}
