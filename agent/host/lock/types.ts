/**
 * The one interface both reboot-lock backends (etcd semaphore, FleetLock) offer to the agent,
 * and what they report. The agent takes a slot before rebooting and releases it once the new
 * boot is marked good (agent/core/schedule/strategy.ts decides when).
 */

export type LockBackend = 'etcd-lock' | 'fleetlock';

export type AcquireResult =
  | { acquired: true }
  /** No slot for now; `reason` is one sentence for status text. */
  | { acquired: false; reason: string };

export interface LockStatus {
  backend: LockBackend;
  /** This host's id (the machine id). */
  id: string;
  group: string | undefined;
  /** Whether this host holds a slot; undefined when the backend cannot say (FleetLock). */
  held: boolean | undefined;
  /** The semaphore as stored (etcd only). */
  semaphore?: { available: number; max: number; holders: string[] };
}

export interface RebootLock {
  readonly backend: LockBackend;
  /** Take a slot for this host; acquiring a slot already held succeeds. */
  acquire(): Promise<AcquireResult>;
  /** Give this host's slot back; releasing a slot not held succeeds. */
  release(): Promise<void>;
  status(): Promise<LockStatus>;
}
