/**
 * The locksmith reboot semaphore in etcd: one key per group holding
 * `{"semaphore":N,"max":M,"holders":[ids]}` (agent/core/schedule/semaphore.ts).
 *
 * Invariants: the key is created only when absent (transaction on version 0, with one free
 * slot as locksmith does) and otherwise changed only by compare-and-swap on the mod revision
 * read just before, so concurrent hosts never lose each other's changes. A value this code
 * cannot read is reported (`lock.malformed-value`) and never overwritten.
 */
import { AgentError } from '../../core/errors.js';
import {
  formatSemaphore,
  initialSemaphore,
  lockSemaphore,
  parseSemaphore,
  semaphoreKey,
  setSemaphoreMax,
  unlockSemaphore,
  type Semaphore,
  type SemaphoreChange,
} from '../../core/schedule/semaphore.js';
import type { EtcdClient } from './etcd-client.js';
import { delay, jitteredBackoff } from './retry.js';
import type { AcquireResult, LockStatus, RebootLock } from './types.js';

export interface EtcdLockOptions {
  client: EtcdClient;
  /** This host's holder id: its machine id. */
  id: string;
  /** coreos.locksmith group; absent or empty for the default semaphore. */
  group?: string;
  /** Compare-and-swap tries when other hosts change the key at the same time; default 10. */
  casAttempts?: number;
}

/** Pauses between compare-and-swap tries: short, the key is usually free again at once. */
const CAS_BACKOFF = { initialMs: 20, maxMs: 500, factor: 2 };

interface Stored {
  semaphore: Semaphore;
  modRevision: string;
}

export class EtcdSemaphoreLock implements RebootLock {
  readonly backend = 'etcd-lock' as const;
  readonly key: string;

  constructor(private readonly options: EtcdLockOptions) {
    this.key = semaphoreKey(options.group);
  }

  async acquire(): Promise<AcquireResult> {
    const change = await this.change((s) => lockSemaphore(s, this.options.id));
    if (change.kind !== 'full') return { acquired: true };
    const s = change.semaphore;
    return {
      acquired: false,
      reason: `all ${s.max} slot${s.max === 1 ? ' is' : 's are'} taken (holders: ${s.holders.join(', ') || 'none'})`,
    };
  }

  async release(): Promise<void> {
    await this.unlock(this.options.id);
  }

  /** Free the slot of `id` (any host: `agentctl lock unlock ID`); false if it held none. */
  async unlock(id: string): Promise<boolean> {
    return (await this.change((s) => unlockSemaphore(s, id))).kind === 'changed';
  }

  /** Set the number of slots (`agentctl lock set-max N`); holders keep theirs. */
  async setMax(max: number): Promise<Semaphore> {
    if (!Number.isSafeInteger(max) || max < 0) {
      throw new AgentError({
        code: 'lock.bad-max',
        message: `the number of slots must be a whole number >= 0, not ${max}`,
        subject: this.key,
        hint: 'Pass a number such as 1 or 2',
      });
    }
    const change = await this.change((s) => ({ kind: 'changed', next: setSemaphoreMax(s, max) }));
    return change.semaphore;
  }

  async status(): Promise<LockStatus> {
    const { semaphore } = await this.read();
    return {
      backend: this.backend,
      id: this.options.id,
      group: this.options.group || undefined,
      held: semaphore.holders.includes(this.options.id),
      semaphore: { available: semaphore.semaphore, max: semaphore.max, holders: semaphore.holders },
    };
  }

  /** The stored semaphore, created with one free slot when the key is absent. */
  async read(): Promise<Stored> {
    for (;;) {
      const { kv } = await this.options.client.get(this.key);
      if (kv) {
        const parsed = parseSemaphore(kv.value);
        if (typeof parsed === 'string') throw this.malformed(parsed, kv.value);
        return { semaphore: parsed, modRevision: kv.modRevision };
      }
      await this.options.client.createIfAbsent(this.key, formatSemaphore(initialSemaphore()));
    }
  }

  /** Apply `change` by compare-and-swap; answers the outcome and the semaphore after it. */
  private async change(
    change: (s: Semaphore) => SemaphoreChange,
  ): Promise<SemaphoreChange & { semaphore: Semaphore }> {
    const attempts = this.options.casAttempts ?? 10;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const stored = await this.read();
      const outcome = change(stored.semaphore);
      if (outcome.kind !== 'changed') return { ...outcome, semaphore: stored.semaphore };
      if (await this.options.client.compareAndSwap(this.key, stored.modRevision, formatSemaphore(outcome.next))) {
        return { ...outcome, semaphore: outcome.next };
      }
      if (attempt < attempts) await delay(jitteredBackoff(attempt - 1, CAS_BACKOFF));
    }
    throw new AgentError({
      code: 'lock.conflict',
      message: `the semaphore changed under every one of ${attempts} compare-and-swap tries`,
      subject: this.key,
      hint: 'Many hosts are changing the lock at once; try again in a moment',
    });
  }

  private malformed(why: string, value: string): AgentError {
    const shown = value.length > 200 ? `${value.slice(0, 200)}…` : value;
    return new AgentError({
      code: 'lock.malformed-value',
      message: `the reboot semaphore holds a value this agent cannot read (${why}): ${shown}`,
      subject: this.key,
      hint: 'Another program wrote it and the agent will not overwrite it; fix the value to ' +
        '{"semaphore":N,"max":M,"holders":[…]} or delete the key so it is created afresh',
    });
  }
}
