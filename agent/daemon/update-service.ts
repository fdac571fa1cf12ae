/**
 * agentd's OS update service: builds the UpdateEngine from the host paths and the channel
 * settings (coreos.update; the release.json channel, or Omaha when the server is an Omaha
 * endpoint), checks release manifests and Omaha payloads against the update keyring
 * (`<trustedkeys>/update.d/<fingerprint>`, admin keys masking system keys as for images),
 * runs periodic updates on a node-cron schedule with a random delay, marks the booted slot
 * good after boot once the required units are active, and implements the update methods
 * of the D-Bus table. Its status (UpdateStatusDocument) goes to every `onChange` listener:
 * state changes at once, progress at most every 250 ms.
 *
 * Invariant: one update operation (check, apply, reset, rollback, the boot marking's
 * write) runs at a time, in order of arrival; an apply asked for while one runs joins it.
 * They do not go through the agent's ExclusiveRunner, so a long install does not hold up
 * reloads. Nothing waits behind a download: status is read without the queue, a check
 * asked for while an apply runs answers with the status at once (the apply checked), and
 * a reset cancels the apply (its AbortSignal reaches the HTTP client), waits for it to
 * wind down, then drops whatever got staged.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import cron, { type ScheduledTask } from 'node-cron';
import type { UpdateRollbackResult, UpdateStatusDocument } from '../api/agent1.js';
import type { OmahaAnswerDocument } from '../api/updates.js';
import type { UpdatePolicy } from '../core/config/types.js';
import { AgentError, describeError, isAgentError } from '../core/errors.js';
import { initialState } from '../core/update/machine.js';
import { COREOS_APP_ID, DEFAULT_BOARD, updateProtocolOf } from '../core/update/omaha.js';
import { updateStatus } from '../core/update/status.js';
import type { AgentHandlers } from '../host/bus/service.js';
import { writeFileAtomic } from '../host/fs/atomic.js';
import type { Logger } from '../host/log/logger.js';
import type { HttpOptions } from '../host/net/http.js';
import { readBootedSlot } from '../host/slots/booted.js';
import { MAX_PRIORITY, otherSlot, updateSlotAttributes, type SlotChanges } from '../host/slots/slots.js';
import type { KeystorePaths, TrustedKey } from '../host/trust/keystore.js';
import { verifyDetached } from '../host/trust/verify.js';
import type { VerifySignature, VerifyStream } from '../host/update/channel.js';
import { UpdateEngine, type UpdateEngineOptions } from '../host/update/engine.js';
import { OmahaChannel, type OmahaChannelOptions } from '../host/update/omaha-channel.js';
import { markBootedGood } from '../host/update/mark.js';
import { resolveUpdatePaths, type UpdatePathOptions, type UpdatePaths } from '../host/update/paths.js';

/** The update keyring's directory under each trusted-keys root. */
export const UPDATE_KEYRING_DIR = 'update.d';
export const DEFAULT_UPDATE_GROUP = 'stable';
/** Hourly, like update_engine's periodic checks; each run waits a random part of `jitterMs` first. */
export const DEFAULT_CHECK_SCHEDULE = '0 * * * *';

const FINGERPRINT_FILE = /^([0-9a-f]{40}|[0-9a-f]{64})$/;
const PROGRESS_INTERVAL_MS = 250;

export interface UpdateServiceOptions {
  /** Host paths of the updater; without `disk` (no A/B disk on this host) updates are disabled. */
  paths: Omit<UpdatePathOptions, 'disk'> & { disk?: string };
  /** Trusted-keys roots; the update keyring is `<root>/update.d/`. */
  keyring: KeystorePaths;
  /** coreos.update: server and group (the reboot strategy belongs to the reboot manager); see setChannel. */
  channel: UpdatePolicy;
  /** The OS version running (VERSION_ID of os-release). */
  currentVersion: string;
  log: Logger;
  /** Units that must have settled (active, or inactive: a oneshot that finished) after boot before the slot is marked good. */
  requiredUnits: () => Promise<string[]>;
  /** systemd's ActiveState of a unit; a rejection counts as not settled yet. */
  unitActiveState: (unit: string) => Promise<string>;
  /** Wait after start before the units are checked; default 60 s. */
  graceMs?: number;
  /** Then how long they may take to become active; default 5 min. */
  healthTimeoutMs?: number;
  /** Default 1 s. */
  healthPollMs?: number;
  /** node-cron expression of the periodic update; null: none. Default hourly. */
  checkSchedule?: string | null;
  /** Each periodic run first waits a random delay below this; default 15 min. */
  jitterMs?: number;
  /** Clock (ms since the epoch); default Date.now. */
  now?: () => number;
  /** [0, 1) for the jitter; default Math.random. */
  random?: () => number;
  http?: HttpOptions;
  /** Tuning passed to the engine (tests, benchmarks). */
  engine?: Pick<UpdateEngineOptions, 'checkpointBytes' | 'chunkBytes' | 'retryDelayMs' | 'xzPath'>;
  /** Default: verify against the update keyring. */
  verifySignature?: VerifySignature;
  /** Omaha mode: host paths (tests) and the board the request names (default amd64-usr). */
  omaha?: Pick<OmahaChannelOptions, 'machineIdPath' | 'bootIdPath' | 'oemReleasePath'> & { board?: string };
  /** Take a release older than the running version (agentd --update-allow-downgrade); never the same or a failed one. */
  allowDowngrade?: boolean;
}

export type UpdateHandlers = Pick<AgentHandlers, 'GetUpdateStatus' | 'UpdateCheck' | 'UpdateApply' | 'UpdateReset' | 'UpdateRollback'>;

async function keyNames(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((n) => FINGERPRINT_FILE.test(n)).sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

/** The update keyring: admin keys, then system keys not masked by an admin file of the same name. */
export async function readUpdateKeys(paths: KeystorePaths): Promise<TrustedKey[]> {
  const adminDir = join(paths.adminDir, UPDATE_KEYRING_DIR);
  const systemDir = join(paths.systemDir, UPDATE_KEYRING_DIR);
  const admin = await keyNames(adminDir);
  const system = (await keyNames(systemDir)).filter((n) => !admin.includes(n));
  const keys: TrustedKey[] = [];
  for (const [dir, names, source] of [[adminDir, admin, 'admin'], [systemDir, system, 'system']] as const) {
    for (const fingerprint of names) {
      const path = join(dir, fingerprint);
      const armored = await readFile(path, 'utf8');
      if (armored.trim() !== '') keys.push({ fingerprint, prefix: undefined, source, path, armored });
    }
  }
  return keys;
}

/** The engine's signature check: a detached signature over release.json by a key of the update keyring. */
export function updateKeyringVerifier(paths: KeystorePaths): VerifySignature {
  const verify = keyringStreamVerifier(paths, 'release.json', 'release manifest');
  return (data, signature) => verify(Readable.from([Buffer.from(data)]), signature);
}

/** A detached signature over a stream (`what` named `name` in messages) by a key of the update keyring. */
export function keyringStreamVerifier(paths: KeystorePaths, name: string, what: string): VerifyStream {
  const adminDir = join(paths.adminDir, UPDATE_KEYRING_DIR);
  return async (data, signature) => {
    const trusted = await readUpdateKeys(paths);
    if (trusted.length === 0) {
      throw new AgentError({
        code: 'update.no-keys',
        message: 'the update keyring has no key',
        subject: adminDir,
        hint: `Install the release signing key (armored) as ${adminDir}/<fingerprint>`,
      });
    }
    return verifyDetached({
      name,
      what,
      signature,
      data,
      trusted,
      trustHint: `If you trust this signer for OS releases, put its armored public key in ${adminDir}/<fingerprint>`,
    });
  };
}

/** VERSION_ID of an os-release file (default /etc/os-release); `0.0.0` when absent. */
export async function readOsVersion(path = '/etc/os-release'): Promise<string> {
  try {
    const m = /^VERSION_ID=("?)([^"\n]*)\1$/m.exec(await readFile(path, 'utf8'));
    return m?.[2] || '0.0.0';
  } catch {
    return '0.0.0';
  }
}

export class UpdateService {
  private readonly paths: UpdatePaths | undefined;
  private channel: UpdatePolicy;
  private engine: UpdateEngine | undefined;
  /** The channel the engine was built for. */
  private engineChannel = '';
  private disabledReason: string | undefined;
  private readonly abort = new AbortController();
  private readonly listeners: Array<(status: UpdateStatusDocument) => void> = [];
  private readonly now: () => number;
  private tail: Promise<unknown> = Promise.resolve();
  private applying: { run: Promise<UpdateStatusDocument>; cancel: AbortController } | undefined;
  private lastError: UpdateStatusDocument['lastError'];
  private boot: UpdateStatusDocument['boot'];
  private bootedSlot: UpdateStatusDocument['bootedSlot'];
  private task: ScheduledTask | undefined;
  private stopped = false;
  private published = { state: '', at: 0 };
  private pending: NodeJS.Timeout | undefined;
  private restoredEngine: UpdateEngine | undefined;
  /** The Omaha channel of the engine, in Omaha mode. */
  private omaha: OmahaChannel | undefined;
  private omahaAnswer: OmahaAnswerDocument | undefined;
  /** Settles when the after-boot marking is done (or skipped); for tests and shutdown. */
  bootMarked: Promise<void> = Promise.resolve();

  constructor(private readonly options: UpdateServiceOptions) {
    this.now = options.now ?? Date.now;
    const { disk, ...paths } = options.paths;
    this.paths = disk ? resolveUpdatePaths({ ...paths, disk }) : undefined;
    this.channel = options.channel;
    this.syncEngine();
    this.boot = { status: this.paths ? 'pending' : 'disabled' };
  }

  private get group(): string {
    return this.channel.group ?? DEFAULT_UPDATE_GROUP;
  }

  /**
   * New coreos.update settings (after a configuration reload). They take effect before the
   * next operation; a staged update keeps its engine until it is reset or booted.
   */
  setChannel(channel: UpdatePolicy): Promise<void> {
    this.channel = channel;
    return this.exclusive(async () => this.changed());
  }

  private get protocol(): 'omaha' | 'release' | undefined {
    return this.channel.server === undefined ? undefined : updateProtocolOf(this.channel.server, this.channel.protocol);
  }

  /** (Re)build the engine when the channel changed, unless an update is staged. */
  private syncEngine(): void {
    const { server, appId } = this.channel;
    const key = JSON.stringify([server, this.group, this.protocol, appId]);
    if (key === this.engineChannel || this.engine?.state.kind === 'UPDATED_NEED_REBOOT') return;
    this.engineChannel = key;
    this.disabledReason = !this.paths
      ? 'this host has no A/B disk configured'
      : !server ? 'no update server is configured (coreos.update.server)' : undefined;
    const http = { ...this.options.http, signal: this.abort.signal };
    this.omahaAnswer = undefined;
    this.omaha = this.paths && server && this.protocol === 'omaha'
      ? new OmahaChannel({
        server,
        group: this.group,
        appId: appId ?? COREOS_APP_ID,
        board: this.options.omaha?.board ?? DEFAULT_BOARD,
        currentVersion: this.options.currentVersion,
        stateDir: this.paths.stateDir,
        ...this.options.omaha,
        verifyPayload: keyringStreamVerifier(this.options.keyring, 'OS payload', 'payload'),
        http,
        onAnswer: (answer, at) => {
          this.omahaAnswer = {
            status: answer.status,
            at: new Date(at).toISOString(),
            ...(answer.status === 'ok' && { version: answer.offer.version }),
            ...(answer.pollIntervalSec !== undefined && { pollIntervalSec: answer.pollIntervalSec }),
            ...(answer.elapsedSeconds !== undefined && { elapsedSeconds: answer.elapsedSeconds }),
          };
          if (answer.status !== 'ok') this.options.log.info(`Omaha server ${server}: ${answer.status}${answer.status === 'noupdate' ? '' : ' (a refusal)'}`);
        },
        warn: (m) => this.options.log.warn(m),
      })
      : undefined;
    this.engine = this.paths && server
      ? new UpdateEngine({
        ...this.paths,
        server,
        group: this.group,
        currentVersion: this.options.currentVersion,
        verifySignature: this.options.verifySignature ?? updateKeyringVerifier(this.options.keyring),
        ...(this.omaha && { channel: this.omaha }),
        http,
        ...this.options.engine,
        warn: (m) => this.options.log.warn(m),
        now: this.now,
        onChange: () => this.changed(),
      })
      : undefined;
  }

  /** Start the periodic updates and the after-boot marking (in the background). */
  start(): void {
    if (!this.paths) {
      this.options.log.info(`OS updates are disabled: ${this.disabledReason}`);
      return;
    }
    const schedule = this.options.checkSchedule === undefined ? DEFAULT_CHECK_SCHEDULE : this.options.checkSchedule;
    if (schedule !== null) {
      this.task = cron.schedule(schedule, () => this.periodic(), { name: 'os-update' });
    }
    this.bootMarked = this.markBootedSlot(this.paths);
  }

  /** Stop the schedule, break off a download (its journal lets it resume) and wait for the operation under way. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.task?.stop();
    this.abort.abort();
    if (this.pending) clearTimeout(this.pending);
    await Promise.allSettled([this.tail, this.bootMarked]);
  }

  onChange(listener: (status: UpdateStatusDocument) => void): void {
    this.listeners.push(listener);
  }

  status(): UpdateStatusDocument {
    const engine = this.engine;
    const next = this.task?.getNextRun();
    return {
      ...(engine ? engine.status : updateStatus(initialState)),
      state: engine?.state.kind ?? 'IDLE',
      enabled: engine !== undefined,
      ...(this.disabledReason !== undefined && { disabledReason: this.disabledReason }),
      currentVersion: this.options.currentVersion,
      ...(this.bootedSlot !== undefined && { bootedSlot: this.bootedSlot }),
      ...(this.channel.server !== undefined && { server: this.channel.server }),
      group: this.group,
      ...(this.protocol !== undefined && { protocol: this.protocol }),
      ...(this.omahaAnswer !== undefined && { omaha: { ...this.omahaAnswer } }),
      ...(this.lastError !== undefined && { lastError: { ...this.lastError } }),
      boot: { ...this.boot },
      ...(next && { nextCheckAt: next.toISOString() }),
    };
  }

  /** Ask the channel now; resolves with the status after the check (at once while an apply runs: it checked). */
  check(): Promise<UpdateStatusDocument> {
    if (this.applying) return Promise.resolve(this.status());
    return this.exclusive(async () => {
      const engine = this.require();
      await this.tracked('check', () => engine.check({ allowDowngrade: this.options.allowDowngrade })).finally(() => this.omaha?.drain());
      this.logRefused(engine);
      return this.status();
    });
  }

  /** Check and stage the newest release; resolves when staged, or when there is none. */
  apply(): Promise<UpdateStatusDocument> {
    if (this.applying) return this.applying.run;
    const cancel = new AbortController();
    const signal = cancel.signal;
    const run = this.exclusive(async () => {
      const engine = this.require();
      await this.tracked('apply', async () => {
        const kind = (): string => engine.state.kind;
        if (kind() === 'UPDATED_NEED_REBOOT') return;
        if (kind() !== 'UPDATE_AVAILABLE') {
          await engine.check({ allowDowngrade: this.options.allowDowngrade, signal });
          this.logRefused(engine);
        }
        if (kind() !== 'UPDATE_AVAILABLE') return;
        await engine.apply({ signal });
      }).finally(() => this.omaha?.drain());
      return this.status();
    });
    this.applying = { run, cancel };
    const done = (): void => {
      if (this.applying?.run === run) this.applying = undefined;
    };
    run.then(done, done);
    return run;
  }

  /** Cancel an apply under way (its download stops at once), then forget a staged update. */
  reset(): Promise<UpdateStatusDocument> {
    const applying = this.applying;
    if (applying) {
      applying.cancel.abort();
      this.options.log.info('cancelling the OS update under way (reset asked for)');
    }
    return this.exclusive(async () => {
      const engine = this.require();
      if (applying && engine.state.kind !== 'UPDATED_NEED_REBOOT') return this.status();
      if (engine.state.kind !== 'UPDATED_NEED_REBOOT') {
        throw new AgentError({
          code: 'update.nothing-staged',
          message: `no update is staged (state ${engine.state.kind})`,
          subject: 'update engine',
          hint: 'Nothing to reset; see `agentctl update status`',
        });
      }
      await engine.reset();
      this.options.log.info('the staged OS update was reset');
      return this.status();
    });
  }

  /** Make the other slot the next boot, when it booted successfully before. */
  rollback(): Promise<UpdateRollbackResult> {
    return this.exclusive(async () => {
      const paths = this.paths;
      if (!paths) throw this.disabled();
      const { disk, rebootRequiredPath } = paths;
      const { booted, slots } = await readBootedSlot(paths);
      const target = slots[otherSlot(booted)];
      const a = target.attributes;
      if (!a.successful) {
        throw new AgentError({
          code: 'update.rollback-refused',
          message: `${target.label} has not booted successfully (priority ${a.priority}, tries ${a.tries}, successful 0), so it is no safe slot to go back to`,
          subject: disk,
          hint: this.engine?.state.kind === 'UPDATED_NEED_REBOOT'
            ? 'It holds the staged update: reboot to try it, or drop it with `agentctl update reset`'
            : `Keep running ${slots[booted].label}; only a slot that booted healthy before can be rolled back to`,
        });
      }
      const bootedPriority = slots[booted].attributes.priority;
      const changes: SlotChanges = bootedPriority >= MAX_PRIORITY
        ? { [target.name]: { priority: MAX_PRIORITY }, [booted]: { priority: MAX_PRIORITY - 1 } }
        : { [target.name]: { priority: bootedPriority + 1 } };
      await updateSlotAttributes(disk, changes, booted);
      await writeFileAtomic(rebootRequiredPath, '', { mkdirs: true });
      this.options.log.info(`rollback: ${target.label} boots next; a reboot is needed`);
      return { nextBoot: target.name, label: target.label };
    });
  }

  /** Say why the release on the channel was not taken: an older one may be a replay. */
  private logRefused(engine: UpdateEngine): void {
    const refused = engine.refused;
    if (!refused) return;
    const running = this.options.currentVersion;
    const { log } = this.options;
    if (refused.reason === 'not-newer') {
      log.warn(`the channel offers ${refused.version}, older than the running ${running}: refused (a replayed old release, or a downgrade on the server; agentd --update-allow-downgrade takes it)`);
    } else if (refused.reason === 'failed-before') {
      log.info(`the channel offers ${refused.version} (running ${running}), which failed on this host before: not installed again`);
    } else {
      log.debug(`the channel offers ${refused.version}, the same as the running ${running}: nothing to do`);
    }
  }

  /** The D-Bus method implementations (agent/api/agent1.ts). */
  handlers(): UpdateHandlers {
    const json = async (value: Promise<unknown> | unknown): Promise<unknown[]> => [JSON.stringify(await value)];
    return {
      GetUpdateStatus: () => json(this.status()),
      UpdateCheck: () => json(this.check()),
      UpdateApply: () => json(this.apply()),
      UpdateReset: () => json(this.reset()),
      UpdateRollback: () => json(this.rollback()),
    };
  }

  private require(): UpdateEngine {
    if (this.engine) return this.engine;
    throw this.disabled();
  }

  private disabled(): AgentError {
    return new AgentError({
      code: 'update.disabled',
      message: `OS updates are disabled: ${this.disabledReason}`,
      hint: 'Give agentd the disk holding USR-A/USR-B and set coreos.update.server in the cloud-config',
    });
  }

  private exclusive<T>(op: () => Promise<T>): Promise<T> {
    if (this.stopped) {
      return Promise.reject(new AgentError({ code: 'agent.shutting-down', message: 'the agent is stopping', hint: 'Retry once the agent runs again' }));
    }
    const result = this.tail.then(async () => {
      this.syncEngine();
      await this.restoreEngine();
      return op();
    });
    this.tail = result.catch(() => undefined);
    return result;
  }

  /** A new engine first takes up a release that an earlier agent staged (UpdateEngine.restore). */
  private async restoreEngine(): Promise<void> {
    const engine = this.engine;
    if (!engine || this.restoredEngine === engine) return;
    this.restoredEngine = engine;
    await engine.restore().catch((e: unknown) => this.options.log.warn(`cannot take up a staged update: ${describeError(e)}`));
  }

  /**
   * Run an engine operation, keeping its error (until the next success) in the status;
   * the log gets every attempt and its result.
   */
  private async tracked<T>(what: 'check' | 'apply', op: () => Promise<T>): Promise<T> {
    const log = this.options.log;
    log.info(`OS update ${what}: asking ${this.channel.server ?? 'the update server'} (group ${this.group}, running ${this.options.currentVersion})`);
    try {
      const result = await op();
      this.lastError = undefined;
      this.changed();
      const s = this.status();
      log.info(`OS update ${what}: ${s.state === 'UPDATED_NEED_REBOOT' ? `${s.newVersion} staged in the other slot; a reboot is needed to use it`
        : s.state === 'UPDATE_AVAILABLE' ? `${s.newVersion} is available` : `no update (${s.currentVersion} is current)`}`);
      return result;
    } catch (e) {
      if (isAgentError(e, 'update.cancelled')) {
        log.info(`OS update ${what}: cancelled`);
        throw e; // asked for: not a failure to show
      }
      log.error(`OS update ${what} failed: ${describeError(e)}`);
      this.lastError = {
        code: isAgentError(e) ? e.code : 'update.internal',
        message: describeError(e),
        at: new Date(this.now()).toISOString(),
      };
      this.changed();
      throw e;
    }
  }

  private periodic(): void {
    const wait = Math.floor((this.options.random ?? Math.random)() * (this.options.jitterMs ?? 15 * 60_000));
    void (async () => {
      if (!(await this.sleep(wait)) || this.stopped || !this.channel.server || this.pollIntervalPending()) return;
      try {
        await this.apply();
      } catch (e) {
        // An engine failure is logged where it happened (tracked); this is the rest.
        if (!this.stopped && !isAgentError(e)) this.options.log.warn(`periodic OS update failed: ${describeError(e)}`);
      }
    })();
  }

  /** Omaha mode: the server's PollInterval since its last answer has not passed yet. */
  private pollIntervalPending(): boolean {
    const a = this.omahaAnswer;
    if (!this.omaha || a?.pollIntervalSec === undefined) return false;
    const due = Date.parse(a.at) + a.pollIntervalSec * 1000;
    if (this.now() >= due) return false;
    this.options.log.debug(`periodic OS update skipped: the Omaha server asked for ${a.pollIntervalSec} s between checks (next at ${new Date(due).toISOString()})`);
    return true;
  }

  /** Resolves false when the service stopped during the wait. */
  private async sleep(ms: number): Promise<boolean> {
    try {
      await delay(ms, undefined, { signal: this.abort.signal });
      return true;
    } catch {
      return false;
    }
  }

  private async markBootedSlot(paths: UpdatePaths): Promise<void> {
    const { log } = this.options;
    try {
      const { booted, slots } = await readBootedSlot(paths);
      this.bootedSlot = booted;
      let health: unknown;
      if (!slots[booted].attributes.successful) {
        this.setBoot({ status: 'checking' });
        health = await this.waitHealthy().then(() => undefined, (e: unknown) => e ?? new Error('unhealthy'));
        if (this.stopped) return;
      }
      const result = await this.exclusive(() => markBootedGood({
        ...paths,
        bootedVersion: this.options.currentVersion,
        healthCheck: async () => {
          if (health !== undefined) throw health;
        },
      }));
      const fell = result.fellBackFrom !== undefined ? { fellBackFrom: result.fellBackFrom } : {};
      if (result.fellBackFrom) log.warn(`version ${result.fellBackFrom} did not boot; the bootloader fell back and it will not be installed again`);
      if (result.status === 'health-failed') {
        log.error(`${result.failedVersion} is not healthy (${result.reason}); not marking USR-${booted} good, a reboot falls back`);
        this.setBoot({ status: 'health-failed', detail: result.reason, ...fell });
      } else {
        if (result.status === 'marked-good') log.info(`USR-${booted} (${this.options.currentVersion}) marked good`);
        this.setBoot({ status: result.status, ...fell });
      }
    } catch (e) {
      if (this.stopped) return;
      log.warn(`could not mark the booted slot: ${describeError(e)}`);
      this.setBoot({ status: 'error', detail: describeError(e) });
    }
  }

  /**
   * After the grace period, every required unit settled within the timeout: `active`, or
   * `inactive` (a oneshot or a container payload that finished; systemd keeps a unit that
   * failed as `failed`, and one restarting is `activating`). Throws why not: at once for a
   * failed unit, at the deadline for one still changing state.
   */
  private async waitHealthy(): Promise<void> {
    const o = this.options;
    if (!(await this.sleep(o.graceMs ?? 60_000))) return;
    const deadline = this.now() + (o.healthTimeoutMs ?? 300_000);
    for (;;) {
      const units = await o.requiredUnits();
      const states = await Promise.all(units.map(async (u) => [u, await o.unitActiveState(u).catch(() => 'unknown')] as const));
      const failed = states.filter(([, s]) => s === 'failed').map(([u]) => u);
      const waiting = states.filter(([, s]) => s !== 'active' && s !== 'inactive');
      if (waiting.length === 0) return;
      if (failed.length > 0) throw new Error(`required units failed: ${failed.join(', ')}`);
      if (this.now() >= deadline) {
        throw new Error(`required units did not settle in time: ${waiting.map(([u, s]) => `${u} (${s})`).join(', ')}`);
      }
      if (!(await this.sleep(o.healthPollMs ?? 1000))) return;
    }
  }

  private setBoot(boot: UpdateStatusDocument['boot']): void {
    this.boot = boot;
    this.changed();
  }

  /** Publish state changes at once, progress at most every PROGRESS_INTERVAL_MS. */
  private changed(): void {
    if (this.stopped) return; // listeners may be gone (the bus closes after us)
    const status = this.status();
    const since = Date.now() - this.published.at;
    if (status.state !== this.published.state || since >= PROGRESS_INTERVAL_MS) {
      this.publish(status);
    } else if (!this.pending) {
      this.pending = setTimeout(() => this.publish(this.status()), PROGRESS_INTERVAL_MS - since);
    }
  }

  private publish(status: UpdateStatusDocument): void {
    if (this.pending) clearTimeout(this.pending);
    this.pending = undefined;
    this.published = { state: status.state, at: Date.now() };
    for (const l of this.listeners) l(status);
  }
}
