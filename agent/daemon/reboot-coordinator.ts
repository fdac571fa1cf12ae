/**
 * agentd's reboot coordinator: asks decideReboot (agent/core/schedule/strategy.ts) what to do
 * — on start, on every event (`poke`: an update was staged, the boot was marked good, the
 * configuration changed) and on timers (the next window start, polls) — and does it: waits
 * for the window, takes a slot of the reboot lock, reboots, releases the slot once the new
 * boot is marked good. Its status (RebootStatus) goes to `onStatus` and GetRebootStatus.
 *
 * Inputs are injected so the update service plugs in later: `rebootNeeded` (an update is
 * staged) and `bootMarkedGood` (the running slot is good), the settings (coreos.update +
 * coreos.locksmith, see rebootSettingsFrom) and the reboot function itself.
 *
 * Invariants: one pass at a time; never a reboot with a lock strategy unless this host holds
 * a slot; a slot is taken only inside the window (the wait for it is cut off at the window's
 * end) and one still held when the window closes before the reboot is released; a slot held
 * from before a reboot (also one found at start, after a crash) is released once the boot is
 * marked good. Whether this host holds a slot is read from etcd; for FleetLock (which cannot
 * say) from a record in the state dir written right after the slot was taken.
 */
import type { RebootStatus } from '../api/agent1.js';
import { backoffDelay } from '../core/backoff.js';
import type { ConfiguredWindow, HostConfig } from '../core/config/types.js';
import { describeError, isAgentError } from '../core/errors.js';
import { currentWindow, nextWindowStart } from '../core/schedule/periods.js';
import {
  decideReboot, describeRebootAction, usesLock, type RebootAction, type RebootStrategy,
} from '../core/schedule/strategy.js';
import { LOCAL, type TimeZone } from '../core/schedule/timezone.js';
import type { Window } from '../core/schedule/window.js';
import { removeFileDurably, writeFileAtomic } from '../host/fs/atomic.js';
import { isObject, readStateFile, type Checked, type StateFileKind } from '../host/fs/state-file.js';
import { readMachineId } from '../host/lock/machine-id.js';
import { openRebootLock, type EtcdLockSettings, type RebootLockSettings } from '../host/lock/open.js';
import type { LockBackend, RebootLock } from '../host/lock/types.js';
import { waitForLock, type WaitReport } from '../host/lock/wait.js';
import type { Logger } from '../host/log/logger.js';
import type { RebootFunction } from '../host/reboot/reboot.js';

/** What the coordinator needs from the configuration. */
export interface RebootSettings {
  strategy: RebootStrategy;
  window?: ConfiguredWindow;
  /** The lock backend's settings (coreos.locksmith), without the holder id. */
  lock: Omit<EtcdLockSettings, 'id'>;
}

/**
 * coreos.update + coreos.locksmith → settings. Without a reboot-strategy, locksmith's
 * best-effort rule decided from the configuration: `etcd-lock` when a lock endpoint is set,
 * else `reboot`.
 */
export function rebootSettingsFrom(config: Pick<HostConfig, 'update' | 'locksmith'>): RebootSettings {
  const l = config.locksmith;
  const tls = {
    ...(l.etcdCaFile !== undefined && { caFile: l.etcdCaFile }),
    ...(l.etcdCertFile !== undefined && { certFile: l.etcdCertFile }),
    ...(l.etcdKeyFile !== undefined && { keyFile: l.etcdKeyFile }),
  };
  return {
    strategy: config.update.rebootStrategy ?? (l.endpoint ? 'etcd-lock' : 'reboot'),
    ...(l.window && { window: l.window }),
    lock: {
      ...(l.endpoint !== undefined && { endpoint: l.endpoint }),
      ...(l.group !== undefined && { group: l.group }),
      ...(Object.keys(tls).length > 0 && { tls }),
      ...(l.etcdUsername !== undefined && { username: l.etcdUsername }),
      ...(l.etcdPassword !== undefined && { password: l.etcdPassword }),
    },
  };
}

/** The window slice of the status at `now`. */
export function windowStatus(configured: ConfiguredWindow, now: Date, zone: TimeZone): NonNullable<RebootStatus['window']> {
  const open = currentWindow(configured.window, now, zone);
  return {
    start: configured.start,
    length: configured.length,
    zone: zone.name,
    open: open !== undefined,
    ...(open && { end: open.end.toISOString() }),
    nextStart: nextWindowStart(configured.window, now, zone).toISOString(),
  };
}

/** How long to sleep after an action before asking again (ms); 0: at once. */
export function pauseAfter(action: RebootAction, now: Date, pollMs: number): number {
  switch (action.kind) {
    case 'wait-window':
      return Math.max(0, Math.min(pollMs, action.until.getTime() - now.getTime()));
    case 'acquire-lock':
    case 'release-lock':
      return 0;
    default:
      return pollMs;
  }
}

/** The record of a slot taken (FleetLock cannot tell who holds one). */
interface HeldRecord {
  backend: LockBackend;
  id: string;
  at: string;
}

/** Pure: `json` as the record of a held slot. */
export function checkHeldRecord(json: unknown): Checked<HeldRecord> {
  if (!isObject(json) || (json.backend !== 'etcd-lock' && json.backend !== 'fleetlock') || typeof json.id !== 'string' || typeof json.at !== 'string') {
    return { refused: 'it is not {"backend": "etcd-lock"|"fleetlock", "id", "at"}' };
  }
  return { value: { backend: json.backend, id: json.id, at: json.at } };
}

const HELD: StateFileKind<HeldRecord> = {
  what: 'the record of a held reboot-lock slot',
  instead: 'with etcd-lock the agent asks etcd whether it holds a slot; otherwise check `agentctl lock status` and release a slot it held with `agentctl lock unlock`',
  check: checkHeldRecord,
};

export interface RebootCoordinatorOptions {
  settings: RebootSettings;
  /** An update is staged and only a reboot makes it take effect. */
  rebootNeeded: () => Promise<boolean>;
  /** The running boot has been marked good. */
  bootMarkedGood: () => Promise<boolean>;
  reboot: RebootFunction;
  log: Logger;
  onStatus?: (status: RebootStatus) => void;
  /** Where the holder id comes from; default /etc/machine-id. */
  machineIdPath?: string;
  /** The record of a held slot, e.g. `<state>/reboot/lock-held.json`. */
  heldPath: string;
  /** Default openRebootLock. */
  openLock?: (settings: RebootLockSettings) => RebootLock;
  /** Window time zone; default local time, as locksmith. */
  zone?: TimeZone;
  now?: () => Date;
  /** Ask again at least this often while nothing happens; default 60 s. */
  pollMs?: number;
  /** Pause between tries to take a slot; default 10 s (doubling after errors). */
  lockPollMs?: number;
  /** Ask again after a postponed reboot; default 30 s. */
  postponedMs?: number;
  /** Still running this long after a reboot was started: ask again; default 15 min. */
  rebootTimeoutMs?: number;
}

export class RebootCoordinator {
  private settings: RebootSettings;
  private status: RebootStatus;
  private readonly stopping = new AbortController();
  /** Aborted when the settings change: ends a wait for the lock under old settings. */
  private settingsChanged = new AbortController();
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private poked = false;
  private failures = 0;
  /** An error was seen during the current pass (else the last one is cleared). */
  private erred = false;
  private id: string | undefined;
  private readonly locks = new Map<string, RebootLock>();
  private readonly now: () => Date;
  private readonly zone: TimeZone;

  constructor(private readonly opts: RebootCoordinatorOptions) {
    this.settings = opts.settings;
    this.now = opts.now ?? (() => new Date());
    this.zone = opts.zone ?? LOCAL;
    this.status = {
      strategy: this.settings.strategy, action: 'idle', message: 'starting', rebootNeeded: false,
      bootMarkedGood: false, updatedAt: this.now().toISOString(),
    };
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Stop asking; a wait for the lock or a reboot delay is broken off. */
  async stop(): Promise<void> {
    this.stopping.abort(new Error('the agent is stopping'));
    this.wake?.();
    await this.loop;
  }

  /** Something changed (update staged, boot marked good): ask again now. */
  poke(): void {
    this.poked = true;
    this.wake?.();
  }

  /** New settings (configuration reloaded); they take effect at once. */
  setSettings(settings: RebootSettings): void {
    this.settings = settings;
    this.settingsChanged.abort(new Error('the reboot settings changed'));
    this.settingsChanged = new AbortController();
    this.poke();
  }

  snapshot(): RebootStatus {
    return structuredClone(this.status);
  }

  handlers(): { GetRebootStatus: () => Promise<unknown[]> } {
    return { GetRebootStatus: async () => [JSON.stringify(this.snapshot())] };
  }

  private get stopped(): boolean {
    return this.stopping.signal.aborted;
  }

  private publish(patch: Partial<RebootStatus>, drop: Array<keyof RebootStatus> = []): void {
    const next = { ...this.status, ...patch, updatedAt: this.now().toISOString() };
    for (const key of drop) delete next[key];
    this.status = next;
    this.opts.onStatus?.(this.snapshot());
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      this.poked = false;
      let pause: number;
      try {
        pause = await this.pass();
        this.failures = 0;
      } catch (e) {
        if (this.stopped) break;
        pause = Math.min(this.opts.pollMs ?? 60_000, backoffDelay(this.failures++, { initialMs: 1000, maxMs: 60_000, factor: 2 }));
        this.fail(e, `retrying in ${Math.round(pause / 1000)} s`);
      }
      if (!this.poked) await this.sleep(pause);
    }
  }

  private fail(e: unknown, next: string): void {
    const code = isAgentError(e) ? e.code : 'agent.internal';
    const message = describeError(e);
    this.opts.log.warn(`reboot coordinator: ${message}; ${next}`);
    this.publish({ action: 'error', message: `${message}; ${next}`, lastError: { code, message, at: this.now().toISOString() } });
  }

  private sleep(ms: number): Promise<void> {
    if (ms <= 0 || this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }

  /** One decision and its action; answers how long to wait before the next. */
  private async pass(): Promise<number> {
    const settings = this.settings;
    const pollMs = this.opts.pollMs ?? 60_000;
    this.erred = false;
    const [rebootNeeded, bootMarkedGood] = await Promise.all([this.opts.rebootNeeded(), this.opts.bootMarkedGood()]);
    const now = this.now();
    const record = await this.readHeld();
    const backend: LockBackend | undefined = usesLock(settings.strategy)
      ? (settings.strategy as LockBackend) : record?.backend;
    const lock = backend ? await this.lockFor(backend, settings) : undefined;
    const lockHeld = lock ? await this.observeHeld(lock, record) : false;
    const window: Window | undefined = settings.window?.window;
    const action = decideReboot({
      strategy: settings.strategy, ...(window && { window }), zone: this.zone, now, rebootNeeded, lockHeld, bootMarkedGood,
    });
    this.publish({
      strategy: settings.strategy,
      action: action.kind,
      message: describeRebootAction(action),
      rebootNeeded,
      bootMarkedGood,
      ...(settings.window && { window: windowStatus(settings.window, now, this.zone) }),
    }, [
      ...(settings.window ? [] : ['window' as const]),
      ...(lock ? [] : ['lock' as const]),
      ...(action.kind === 'reboot' ? [] : ['postponed' as const]),
      ...(this.erred ? [] : ['lastError' as const]),
    ]);

    switch (action.kind) {
      case 'acquire-lock':
        await this.acquire(lock!, action.deadline);
        return 0;
      case 'release-lock':
        await lock!.release();
        await removeFileDurably(this.opts.heldPath);
        this.publishLock({ held: false });
        this.opts.log.info(`reboot lock released (${action.reason})`);
        return 0;
      case 'reboot':
        return this.reboot(action);
      default:
        return pauseAfter(action, now, pollMs);
    }
  }

  private async reboot(action: Extract<RebootAction, { kind: 'reboot' }>): Promise<number> {
    const signals = [this.stopping.signal, this.settingsChanged.signal];
    if (action.deadline) signals.push(AbortSignal.timeout(Math.max(0, action.deadline.getTime() - this.now().getTime())));
    let outcome;
    try {
      outcome = await this.opts.reboot('an OS update is staged', AbortSignal.any(signals));
    } catch (e) {
      if (signals.some((s) => s.aborted)) return 0; // stopping, new settings, or the window closed: ask again
      throw e;
    }
    if (outcome.kind === 'postponed') {
      this.opts.log.info(`reboot postponed: ${outcome.reason}`);
      this.publish({ action: 'reboot-postponed', message: `reboot postponed: ${outcome.reason}`, postponed: outcome.reason });
      return this.opts.postponedMs ?? 30_000;
    }
    this.opts.log.warn(`rebooting through ${outcome.via}`);
    this.publish({ action: 'rebooting', message: `rebooting through ${outcome.via}` });
    return this.opts.rebootTimeoutMs ?? 15 * 60_000; // the reboot stops this process first
  }

  /** Wait for a slot until taken, the window's end, new settings or stop. */
  private async acquire(lock: RebootLock, deadline: Date | undefined): Promise<void> {
    const signals = [this.stopping.signal, this.settingsChanged.signal];
    if (deadline) signals.push(AbortSignal.timeout(Math.max(0, deadline.getTime() - this.now().getTime())));
    const onTry = (report: WaitReport): void => {
      const at = this.now().toISOString();
      if (report.acquired) return;
      const result = 'error' in report ? describeError(report.error) : report.reason;
      this.publishLock({ lastTry: { at, result } }, !('error' in report));
      if ('error' in report) {
        const code = isAgentError(report.error) ? report.error.code : 'lock.internal';
        this.publish({ lastError: { code, message: result, at } });
      }
    };
    try {
      await waitForLock(lock, { signal: AbortSignal.any(signals), pollMs: this.opts.lockPollMs ?? 10_000, onTry });
    } catch (e) {
      if (signals.some((s) => s.aborted)) return; // ask again: the decision changes
      throw e;
    }
    const record: HeldRecord = { backend: lock.backend, id: await this.machineId(), at: this.now().toISOString() };
    await writeFileAtomic(this.opts.heldPath, JSON.stringify(record) + '\n', { mkdirs: true });
    this.publishLock({ held: true }, true);
    this.opts.log.info(`reboot lock taken (${lock.backend})`);
  }

  private publishLock(patch: Partial<NonNullable<RebootStatus['lock']>>, clearError = false): void {
    if (!this.status.lock) return;
    this.publish({ lock: { ...this.status.lock, ...patch } }, clearError ? ['lastError'] : []);
  }

  /** Whether this host holds a slot: etcd says so; FleetLock (or etcd unreachable): our record. */
  private async observeHeld(lock: RebootLock, record: HeldRecord | undefined): Promise<boolean> {
    const s = this.settings.lock;
    const base: NonNullable<RebootStatus['lock']> = {
      backend: lock.backend,
      ...(this.id !== undefined && { id: this.id }),
      ...(s.group !== undefined && { group: s.group }),
      ...(s.endpoint !== undefined && { endpoint: s.endpoint }),
      held: record?.backend === lock.backend,
      ...(this.status.lock?.backend === lock.backend && this.status.lock.lastTry && { lastTry: this.status.lock.lastTry }),
    };
    if (lock.backend !== 'etcd-lock') {
      this.publish({ lock: base });
      return base.held;
    }
    try {
      const status = await lock.status();
      const held = status.held === true;
      if (held && !record) {
        await writeFileAtomic(this.opts.heldPath, JSON.stringify({ backend: lock.backend, id: status.id, at: this.now().toISOString() }) + '\n', { mkdirs: true });
      } else if (!held && record) {
        await removeFileDurably(this.opts.heldPath); // someone unlocked it (agentctl lock unlock)
      }
      this.publish({ lock: { ...base, held, ...(status.semaphore && { semaphore: status.semaphore }) } });
      return held;
    } catch (e) {
      this.erred = true;
      const at = this.now().toISOString();
      const code = isAgentError(e) ? e.code : 'lock.internal';
      this.publish({ lock: { ...base, lastTry: { at, result: describeError(e) } }, lastError: { code, message: describeError(e), at } });
      return base.held;
    }
  }

  private async lockFor(backend: LockBackend, settings: RebootSettings): Promise<RebootLock> {
    const full: RebootLockSettings = { ...settings.lock, strategy: backend, id: await this.machineId() };
    const key = JSON.stringify(full);
    let lock = this.locks.get(key);
    if (!lock) {
      lock = (this.opts.openLock ?? openRebootLock)(full);
      this.locks.clear();
      this.locks.set(key, lock);
    }
    return lock;
  }

  private async machineId(): Promise<string> {
    this.id ??= await readMachineId(this.opts.machineIdPath);
    return this.id;
  }

  private async readHeld(): Promise<HeldRecord | undefined> {
    return readStateFile(this.opts.heldPath, HELD, { warn: (m) => this.opts.log.warn(m) });
  }
}
