/**
 * Exponential backoff with a ceiling, for reconnecting to systemd, etcd and servers.
 * Pure: the caller sleeps.
 */

export interface BackoffPolicy {
  /** Delay before the first retry, ms. */
  initialMs: number;
  /** Ceiling, ms. */
  maxMs: number;
  /** Growth per attempt, e.g. 2. */
  factor: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 500, maxMs: 30_000, factor: 2 };

/** Delay before retry number `attempt` (0-based). */
export function backoffDelay(attempt: number, policy: BackoffPolicy = DEFAULT_BACKOFF): number {
  const delay = policy.initialMs * policy.factor ** Math.max(0, attempt);
  return Math.min(policy.maxMs, Math.round(delay));
}
