/**
 * Waits for systemd jobs to finish, from the manager's JobRemoved signal (no polling).
 *
 * Invariant: the signal may arrive before the StartUnit reply that names the job, so
 * results of jobs nobody waits for yet are kept (bounded) and handed to a later waiter.
 */
import dbus from 'dbus-next';
import type { Bus } from './dbus.js';

export type JobResult = 'done' | 'canceled' | 'timeout' | 'failed' | 'dependency' | 'skipped' | 'invalid';

interface Waiter {
  resolve(result: JobResult): void;
}

const UNCLAIMED_LIMIT = 1024;

export class JobTracker {
  private readonly waiters = new Map<string, Waiter>();
  private readonly unclaimed = new Map<string, JobResult>();

  constructor(bus: Bus) {
    bus.on('message', (msg) => {
      if (msg.type !== dbus.MessageType.SIGNAL || msg.member !== 'JobRemoved'
        || msg.interface !== 'org.freedesktop.systemd1.Manager') return;
      const [, jobPath, , result] = msg.body as [number, string, string, JobResult];
      this.settle(jobPath, result);
    });
  }

  private settle(jobPath: string, result: JobResult): void {
    const waiter = this.waiters.get(jobPath);
    if (waiter) {
      this.waiters.delete(jobPath);
      waiter.resolve(result);
      return;
    }
    this.unclaimed.set(jobPath, result);
    if (this.unclaimed.size > UNCLAIMED_LIMIT) {
      const oldest = this.unclaimed.keys().next().value;
      if (oldest !== undefined) this.unclaimed.delete(oldest);
    }
  }

  /** Resolve with the job's result once systemd removes it. */
  wait(jobPath: string): Promise<JobResult> {
    const early = this.unclaimed.get(jobPath);
    if (early !== undefined) {
      this.unclaimed.delete(jobPath);
      return Promise.resolve(early);
    }
    return new Promise((resolve) => this.waiters.set(jobPath, { resolve }));
  }

  /** Fail every pending wait (the connection is gone). */
  abandon(): void {
    for (const waiter of this.waiters.values()) waiter.resolve('invalid');
    this.waiters.clear();
  }
}
