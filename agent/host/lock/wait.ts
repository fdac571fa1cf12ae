/**
 * Waiting for a reboot-lock slot: try, and while no slot is free or the backend fails, try
 * again with growing pauses until a slot is taken or the caller aborts (e.g. when the
 * maintenance window closes). Errors never end the wait: a host without its lock backend
 * keeps waiting and never reboots without a slot. Every try is reported for status text.
 */
import type { AcquireResult, RebootLock } from './types.js';
import { delay, jitteredBackoff } from './retry.js';

export type WaitReport = AcquireResult | { acquired: false; error: unknown };

export interface WaitOptions {
  /** Aborting ends the wait with the signal's reason. */
  signal?: AbortSignal;
  /** Pause after a refusal, default 10 s; after errors it doubles up to `maxPollMs`. */
  pollMs?: number;
  /** Longest pause, default 5 min. */
  maxPollMs?: number;
  /** Told after each try. */
  onTry?: (report: WaitReport) => void;
}

/** Resolve once `lock` gives this host a slot. */
export async function waitForLock(lock: RebootLock, options: WaitOptions = {}): Promise<void> {
  const pollMs = options.pollMs ?? 10_000;
  const maxPollMs = options.maxPollMs ?? 300_000;
  for (let failures = 0; ;) {
    options.signal?.throwIfAborted();
    let report: WaitReport;
    try {
      report = await lock.acquire();
      failures = 0;
    } catch (error) {
      report = { acquired: false, error };
      failures++;
    }
    options.onTry?.(report);
    if (report.acquired) return;
    const pause = failures === 0 ? pollMs : jitteredBackoff(failures - 1, { initialMs: pollMs, maxMs: maxPollMs, factor: 2 });
    await delay(pause, options.signal);
  }
}
