/**
 * Bounded retries with exponential backoff (agent/core/backoff.ts) and jitter for lock
 * requests. Only errors the caller calls transient are retried; anything else, the last
 * failure and an abort end it.
 */
import { backoffDelay, type BackoffPolicy } from '../../core/backoff.js';

/** Lock requests: 100 ms, 200 ms, 400 ms … up to 2 s. */
export const LOCK_REQUEST_BACKOFF: BackoffPolicy = { initialMs: 100, maxMs: 2000, factor: 2 };

export interface RetryOptions {
  /** Total tries, including the first; default 4. */
  attempts?: number;
  /** Pauses between tries (±25 % jitter); default LOCK_REQUEST_BACKOFF. */
  backoff?: BackoffPolicy;
  signal?: AbortSignal;
}

/** Resolve after `ms`, or reject with the signal's reason when it aborts first. */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** The pause before retry `attempt` (0-based) with ±25 % jitter, so hosts spread out. */
export function jitteredBackoff(attempt: number, policy: BackoffPolicy): number {
  return Math.round(backoffDelay(attempt, policy) * (0.75 + Math.random() * 0.5));
}

export async function withRetry<T>(
  fn: () => Promise<T>,
  isTransient: (e: unknown) => boolean,
  options: RetryOptions = {},
): Promise<T> {
  const attempts = options.attempts ?? 4;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (attempt >= attempts || !isTransient(e) || options.signal?.aborted) throw e;
      await delay(jitteredBackoff(attempt - 1, options.backoff ?? LOCK_REQUEST_BACKOFF), options.signal);
    }
  }
}
