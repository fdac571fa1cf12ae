/**
 * Container image auto-update in agentd. On the `host-agent.images.check` schedule (node-cron),
 * on `agentctl update containers --now` (UpdateContainers) and when a waited-for window
 * opens, one pass goes through every container with `auto-update: true`: discovers the
 * newest image of its name (appc: version `latest`; OCI: the image the declared tag names
 * now; fetched and signature-verified into the store through ImageService: the staged slot), and inside `host-agent.images.window` pins the
 * container to it (ContainerService.setImagePins) and reconciles, which restarts it. The unit
 * must then stay active for the settle time; if it fails, restarts or is not active at the
 * end, the container is pinned back to the previous image and restarted, and the image ID is
 * recorded as failed, never staged again; the record keeps the container's last output
 * lines (bounded), and the latest rollback goes to the top-level status (onRollback). Every
 * attempt and its result is logged. Decisions are in agent/core/plan/image-updates.ts.
 *
 * Invariants: passes run one at a time; each record change is written (atomically) to
 * `<state>/image-updates.json` before it is acted on, so after a crash the pins are the
 * same, and a trial interrupted by a crash is settled by the next pass.
 */
import cron, { type ScheduledTask } from 'node-cron';
import type { ContainerStatus, ImageRollback, ImageUpdatesDocument, UnitStatus } from '../api/agent1.js';
import type { Container, HostConfig, ImagePolicy } from '../core/config/types.js';
import { AgentError, describeError } from '../core/errors.js';
import { isImageId } from '../core/image/id.js';
import { isDockerReference, labelOf } from '../core/image/match.js';
import {
  activate, confirm, decideUpdate, latestRollback, noted, recordFor, rollBack, settleProblem, stage, windowOpen,
  type FailedImage, type ImageRef, type ImageUpdateRecord, type SettleSample,
} from '../core/plan/image-updates.js';
import { currentWindow, msToWindowStart, nextWindowStart } from '../core/schedule/periods.js';
import { parseGoDuration } from '../core/schedule/window.js';
import { LOCAL, type TimeZone } from '../core/schedule/timezone.js';
import type { AgentHandlers } from '../host/bus/service.js';
import { writeFileAtomic } from '../host/fs/atomic.js';
import { isObject, readStateFile, type Checked, type StateFileKind } from '../host/fs/state-file.js';
import type { Logger } from '../host/log/logger.js';
import type { ContainerReport, ImagePin } from './container-service.js';
import type { ImageService } from './image-service.js';

/** What the service needs of the containers (ContainerService). */
export interface UpdatableContainers {
  setImagePins(pins: ReadonlyMap<string, ImagePin>): void;
  snapshot(): ContainerStatus[];
  unitStatus(name: string): Promise<UnitStatus>;
  /** The last lines the container printed (its output file or journal). */
  lastOutput(name: string): Promise<string[]>;
  reconcile(): Promise<ContainerReport>;
}

export interface ImageUpdateServiceOptions {
  /** The record of every container, e.g. `<state>/image-updates.json`. */
  statePath: string;
  log: Logger;
  containers: UpdatableContainers;
  /** Fetches (discovery, verification) the newest image of a reference into the store. */
  fetchNewest: (reference: string) => Promise<ImageRef>;
  /** How long a container must stay active on a new image. Default 30 s. */
  settleMs?: number;
  /** How often the unit is looked at during the settle time. Default 250 ms. */
  pollMs?: number;
  /** Window time zone; default local time, as the reboot window. */
  zone?: TimeZone;
  now?: () => Date;
  /** The latest rollback of a container with auto-update (or none), after every change of it. */
  onRollback?: (latest: ImageRollback | undefined) => void;
}

export type ImageUpdateHandlers = Pick<AgentHandlers, 'ContainerImageUpdates' | 'UpdateContainers'>;

const DEFAULT_SETTLE_MS = 30_000;
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The settle time from `HOST_AGENT_IMAGE_SETTLE` (a Go duration, e.g. `30s`), or the default. */
export function settleMsFromEnv(env: NodeJS.ProcessEnv): number {
  const text = env.HOST_AGENT_IMAGE_SETTLE;
  if (!text) return DEFAULT_SETTLE_MS;
  const parsed = parseGoDuration(text);
  if (!parsed.ok || parsed.value <= 0) {
    throw new AgentError({
      code: 'agent.usage',
      message: parsed.ok ? `HOST_AGENT_IMAGE_SETTLE=${text} is not positive` : parsed.problem,
      hint: 'Set HOST_AGENT_IMAGE_SETTLE to a duration such as 30s, or unset it',
    });
  }
  return parsed.value;
}

/** fetchNewest over the agent's ImageService. */
export function newestFromService(images: ImageService): (reference: string) => Promise<ImageRef> {
  return async (reference) => {
    const { image } = await images.fetch({ image: reference, insecureOptions: [] });
    const version = labelOf(image, 'version');
    return { id: image.id, ...(version !== undefined && { version }) };
  };
}

/**
 * The reference to look up: appc, the declared name and labels without a version (so
 * discovery finds `latest`); OCI, the declared reference itself, so the tag's current
 * digest (podman's registry mode: a new digest is a new image, fetched and verified).
 */
function newestReference(c: Container): string {
  if (isDockerReference(c.image)) return c.imageText;
  return [c.image.name, ...Object.entries(c.image.labels).filter(([k]) => k !== 'version').map(([k, v]) => `${k}=${v}`)].join(',');
}

function sample(u: UnitStatus): SettleSample {
  return { activeState: u.activeState, nRestarts: u.nRestarts, execMainStatus: u.execMainStatus };
}

function isImageRef(v: unknown): v is ImageRef {
  return isObject(v) && typeof v.id === 'string' && isImageId(v.id) && (v.version === undefined || typeof v.version === 'string');
}

function isFailedImage(v: unknown): v is FailedImage {
  return isImageRef(v) && isObject(v) && typeof v.reason === 'string' && typeof v.at === 'string';
}

/** Pure: whether `v` is a whole image update record (a pin to a bad image must not survive). */
export function isImageUpdateRecord(v: unknown): v is ImageUpdateRecord {
  if (!isObject(v) || typeof v.declared !== 'string' || !Array.isArray(v.failed) || !v.failed.every(isFailedImage)) return false;
  const refs = [v.current, v.previous, v.staged].every((r) => r === undefined || isImageRef(r));
  const last = v.last === undefined || (isObject(v.last) && typeof v.last.result === 'string' && typeof v.last.message === 'string' && typeof v.last.at === 'string'
    && (v.last.output === undefined || (Array.isArray(v.last.output) && v.last.output.every((l) => typeof l === 'string'))));
  return refs && last && (v.trial === undefined || typeof v.trial === 'boolean');
}

/** Pure: `json` as image-updates.json; records not in the expected shape are dropped (their containers run the declared image). */
export function checkImageUpdateRecords(json: unknown): Checked<Record<string, ImageUpdateRecord>> {
  if (!isObject(json) || !isObject(json.containers)) return { refused: 'it is not {"containers": {...}}' };
  const entries = Object.entries(json.containers);
  const kept = entries.filter(([, r]) => isImageUpdateRecord(r)) as Array<[string, ImageUpdateRecord]>;
  const bad = entries.filter(([, r]) => !isImageUpdateRecord(r)).map(([name]) => name);
  return { value: Object.fromEntries(kept), ...(bad.length && { dropped: `the records of container${bad.length > 1 ? 's' : ''} ${bad.join(', ')}` }) };
}

function formatRecords(records: Record<string, ImageUpdateRecord>): string {
  return `${JSON.stringify({ containers: records }, null, 2)}\n`;
}

const RECORDS: StateFileKind<Record<string, ImageUpdateRecord>> = {
  what: 'the file of image update records',
  instead: 'containers run their declared images and auto-update starts afresh',
  check: checkImageUpdateRecords,
  format: formatRecords,
  mode: 0o600,
};

export class ImageUpdateService {
  private records = new Map<string, ImageUpdateRecord>();
  private containers: Container[] = [];
  private policy: ImagePolicy = {};
  private task: ScheduledTask | undefined;
  private windowTimer: NodeJS.Timeout | undefined;
  private tail: Promise<unknown> = Promise.resolve();
  private lastPassAt: string | undefined;
  private stopped = false;
  private readonly now: () => Date;
  private readonly zone: TimeZone;
  private readonly settleMs: number;

  constructor(private readonly opts: ImageUpdateServiceOptions) {
    this.now = opts.now ?? (() => new Date());
    this.zone = opts.zone ?? LOCAL;
    this.settleMs = opts.settleMs ?? DEFAULT_SETTLE_MS;
  }

  /** Reads the records and pins the containers to them; call before the first reconcile. */
  async load(): Promise<void> {
    const records = await readStateFile(this.opts.statePath, RECORDS, { warn: (m) => this.opts.log.warn(m) });
    for (const [name, r] of Object.entries(records ?? {})) this.records.set(name, r);
    this.pin();
    this.published();
  }

  /** The configuration in force: which containers follow their image, the schedule, the window. */
  setConfig(config: HostConfig): void {
    this.containers = config.containers.filter((c) => c.autoUpdate);
    this.published();
    const schedule = config.images.check !== this.policy.check;
    this.policy = config.images;
    if (schedule && !this.stopped) {
      void this.task?.stop();
      this.task = this.policy.check === undefined ? undefined : cron.schedule(this.policy.check, () => this.background('scheduled'), { name: 'image-updates' });
    }
    if (this.windowTimer) clearTimeout(this.windowTimer);
    this.windowTimer = undefined;
    if (this.containers.some((c) => this.records.get(c.name)?.staged)) this.wakeAtWindow();
    // A trial cut short by an agent restart is settled at once.
    if (this.containers.some((c) => this.records.get(c.name)?.trial)) this.background('unfinished trial');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.task?.stop();
    if (this.windowTimer) clearTimeout(this.windowTimer);
    await this.tail.catch(() => undefined);
  }

  handlers(): ImageUpdateHandlers {
    return {
      ContainerImageUpdates: async () => [JSON.stringify(this.document())],
      UpdateContainers: async () => [JSON.stringify(await this.pass())],
    };
  }

  /** Runs one pass after any under way; resolves with the document after it. */
  pass(): Promise<ImageUpdatesDocument> {
    const next = this.tail.then(() => this.passNow());
    this.tail = next.catch(() => undefined);
    return next;
  }

  document(): ImageUpdatesDocument {
    const now = this.now();
    const running = new Map(this.opts.containers.snapshot().map((s) => [s.name, s]));
    const next = this.task?.getNextRun();
    const w = this.policy.window;
    return {
      ...(this.policy.check !== undefined && { check: this.policy.check }),
      ...(next && { nextCheckAt: next.toISOString() }),
      ...(w && { window: { start: w.start, length: w.length, open: currentWindow(w.window, now, this.zone) !== undefined, nextStart: nextWindowStart(w.window, now, this.zone).toISOString() } }),
      settleSeconds: this.settleMs / 1000,
      ...(this.lastPassAt !== undefined && { lastPassAt: this.lastPassAt }),
      containers: this.containers.map((c) => {
        const r = recordFor(this.records.get(c.name), c.imageText);
        const current = r.current ?? this.runningImage(running.get(c.name));
        return {
          name: c.name, image: c.imageText, failed: r.failed,
          ...(current && { current }), ...(r.staged && { staged: r.staged }), ...(r.previous && { previous: r.previous }),
          ...(r.trial && { trial: true }), ...(r.last && { last: r.last }),
        };
      }),
    };
  }

  /** The latest rollback of a container with auto-update, as AgentStatus.imageRollback gives it. */
  latestRollback(): ImageRollback | undefined {
    const latest = latestRollback(this.containers.flatMap((c) => {
      const r = this.records.get(c.name);
      return r?.declared === c.imageText ? [[c.name, r] as [string, ImageUpdateRecord]] : [];
    }));
    if (!latest) return undefined;
    const { message, at, output } = latest.last;
    return { container: latest.container, message, at, ...(output && { output }) };
  }

  private published(): void {
    this.opts.onRollback?.(this.latestRollback());
  }

  private background(why: string): void {
    if (this.stopped) return;
    void this.pass().catch((e: unknown) => this.opts.log.error(`image update pass (${why}) failed: ${describeError(e)}`));
  }

  private async passNow(): Promise<ImageUpdatesDocument> {
    if (this.windowTimer) clearTimeout(this.windowTimer);
    this.windowTimer = undefined;
    for (const c of this.containers) {
      if (this.stopped) break;
      await this.updateOne(c);
    }
    this.lastPassAt = this.now().toISOString();
    return this.document();
  }

  private runningImage(s: ContainerStatus | undefined): ImageRef | undefined {
    return s?.imageId === undefined ? undefined : { id: s.imageId, ...(s.version !== undefined && { version: s.version }) };
  }

  private async updateOne(c: Container): Promise<void> {
    let record = recordFor(this.records.get(c.name), c.imageText);
    const at = (): string => this.now().toISOString();
    try {
      if (record.trial) {
        // Cut short by an agent restart: settled now; newer images are for the next pass.
        await this.settle(c.name, record);
        return;
      }
      const running = this.runningImage(this.opts.containers.snapshot().find((s) => s.name === c.name));
      if (!running && !record.current) {
        record = noted(record, 'skipped', 'the image the container runs is not known yet (see agentctl ps)', at());
        await this.save(c.name, record);
        this.opts.log.info(`container ${c.name}: image update skipped: ${record.last!.message}`);
        return;
      }
      if (!record.staged) {
        const reference = newestReference(c);
        this.opts.log.info(`container ${c.name}: looking for a newer image of ${reference}`);
        const found = await this.opts.fetchNewest(reference);
        const decision = decideUpdate(record, running, found, isDockerReference(c.image));
        record = decision.kind === 'stage'
          ? stage(record, found, `${found.version ?? found.id} fetched and verified`, at())
          : noted(record, decision.result, decision.message, at());
        await this.save(c.name, record);
        this.opts.log.info(decision.kind === 'stage'
          ? `container ${c.name}: image ${found.version ?? ''} ${found.id} staged`
          : `container ${c.name}: image update ${decision.result}: ${decision.message}`);
      }
      if (!record.staged) return;
      const w = this.policy.window?.window;
      if (!windowOpen(w, this.now(), this.zone)) {
        record = noted(record, 'staged', `${record.staged.version ?? record.staged.id} is staged; the container restarts on it in the window`, at());
        await this.save(c.name, record);
        this.opts.log.info(`container ${c.name}: ${record.last!.message}`);
        this.wakeAtWindow();
        return;
      }
      record = activate(record, running);
      await this.save(c.name, record);
      this.opts.log.info(`container ${c.name}: restarting on image ${record.current!.version ?? ''} ${record.current!.id}`);
      record = await this.settle(c.name, record);
    } catch (e) {
      record = noted(record, 'error', describeError(e), at());
      await this.save(c.name, record).catch((w: unknown) => this.opts.log.error(`cannot record the image update of ${c.name}: ${describeError(w)}`));
      this.opts.log.error(`container ${c.name}: image update failed: ${describeError(e)}`);
    }
  }

  /** Restarts on the trial image and watches it; confirms it, or rolls back and restarts again. */
  private async settle(name: string, trial: ImageUpdateRecord): Promise<ImageUpdateRecord> {
    const image = trial.current!;
    const problem = await this.watch(name, image);
    if (problem === undefined) {
      const record = confirm(trial, `running ${image.version ?? image.id} (active for ${this.settleMs / 1000} s)`, this.now().toISOString());
      await this.save(name, record);
      this.opts.log.info(`container ${name}: updated to ${image.version ?? ''} ${image.id}`);
      return record;
    }
    // Read before the rollback restarts the container, so the lines are those of the trial.
    const output = await this.opts.containers.lastOutput(name).catch(() => []);
    const record = rollBack(trial, problem, this.now().toISOString(), output);
    await this.save(name, record);
    this.opts.log.warn(`container ${name}: ${record.last!.message}${output.length > 0 ? ' (its last output: agentctl status, as root)' : ''}`);
    await this.opts.containers.reconcile();
    return record;
  }

  /** Why the container is not healthy on `image` within the settle time, or undefined. */
  private async watch(name: string, image: ImageRef): Promise<string | undefined> {
    const report = await this.opts.containers.reconcile();
    const refused = report.errors.find((e) => e.container === name);
    if (refused) return `the container cannot run on it: ${refused.error.message}`;
    const runs = this.opts.containers.snapshot().find((s) => s.name === name)?.imageId;
    if (runs !== image.id) return `the container did not move to the image (it runs ${runs ?? 'nothing'})`;
    const baseline = sample(await this.opts.containers.unitStatus(name));
    const deadline = Date.now() + this.settleMs;
    for (;;) {
      const final = Date.now() >= deadline;
      const problem = settleProblem(baseline, sample(await this.opts.containers.unitStatus(name)), final);
      if (problem !== undefined || final) return problem;
      await new Promise((r) => setTimeout(r, Math.min(this.opts.pollMs ?? 250, Math.max(0, deadline - Date.now()))));
    }
  }

  /** A pass for the staged images when the window opens (in a second when it is open already). */
  private wakeAtWindow(): void {
    const w = this.policy.window?.window;
    if (!w || this.stopped || this.windowTimer) return;
    const ms = Math.min(MAX_TIMER_MS, Math.max(1000, msToWindowStart(w, this.now(), this.zone)));
    this.windowTimer = setTimeout(() => {
      this.windowTimer = undefined;
      this.background('window opened');
    }, ms);
    this.windowTimer.unref();
  }

  /** Writes every record (atomically) and pins the containers to them. */
  private async save(name: string, record: ImageUpdateRecord): Promise<void> {
    this.records.set(name, record);
    await writeFileAtomic(this.opts.statePath, formatRecords(Object.fromEntries(this.records)), { mode: 0o600, mkdirs: true });
    this.pin();
    this.published();
  }

  private pin(): void {
    const pins = new Map<string, ImagePin>();
    for (const [name, r] of this.records) if (r.current) pins.set(name, { image: r.declared, id: r.current.id });
    this.opts.containers.setImagePins(pins);
  }
}
