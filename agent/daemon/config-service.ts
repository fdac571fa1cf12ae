/**
 * The configuration in force: read, validated, applied through systemd, watched.
 *
 * Invariants: only a configuration without errors is applied; after a broken edit the
 * last good one stays in force (and is what a restarted agent applies), the errors are in
 * the status with file and line. Applies run one at a time on the agent's runner. While
 * systemd is unreachable nothing is applied; the next connection applies. An apply is all or
 * nothing for the files it writes (../host/apply/execute.ts): when they cannot all be
 * written (a full disk) nothing changes, the status's lastApply says why, and the
 * configuration is not saved as the last good one. It is saved only after an apply that ran.
 */
import chokidar, { type FSWatcher } from 'chokidar';
import type { ApplyReport, ConfigEntry, ConfigPlan, ConfigStatus } from '../api/agent1.js';
import type { HostConfig } from '../core/config/types.js';
import type { ReportEntry } from '../core/config/report.js';
import { invalidConfigError, validateSources } from '../core/config/validate.js';
import { describeError, isAgentError } from '../core/errors.js';
import { planHostConfig } from '../core/plan/config-plan.js';
import { describeStep } from '../core/plan/steps.js';
import { boundedGunzip, loadConfig, type ConfigPaths, type LoadedConfig } from '../host/config/load.js';
import { readLastGood, saveLastGood } from '../host/config/last-good.js';
import { observeHost, type HostContext } from '../host/apply/observe.js';
import { executeSteps } from '../host/apply/execute.js';
import type { Logger } from '../host/log/logger.js';
import type { ExclusiveRunner } from './runner.js';

export interface ConfigServiceOptions {
  paths: ConfigPaths;
  /** Where the last good configuration is kept (state dir). */
  lastGoodPath: string;
  runner: ExclusiveRunner;
  log: Logger;
  /** The host as it can be reached now; undefined while systemd is not connected. */
  host: () => HostContext | undefined;
  onStatus: (status: ConfigStatus) => void;
  /** Called with each configuration that goes in force, before it is applied. */
  onConfig?: (config: HostConfig) => Promise<void>;
  /** Quiet time after the last file event before re-reading, ms. */
  debounceMs?: number;
}

function toEntries(entries: readonly ReportEntry[], mainFile: string): ConfigEntry[] {
  return entries.map((e) => ({ file: e.file ?? mainFile, line: e.line, level: e.level, message: e.message }));
}

export class ConfigService {
  private inForce: { config: HostConfig; source: ApplyReport['source'] } | undefined;
  /** The configuration last applied: what removals are planned against. */
  private applied: HostConfig | undefined;
  private status: ConfigStatus;
  private watcher: FSWatcher | undefined;
  private debounce: NodeJS.Timeout | undefined;
  /** File events seen, and how many of them the last read began after (it covers those). */
  private edits = 0;
  private editsRead = 0;

  constructor(private readonly opts: ConfigServiceOptions) {
    this.status = { path: opts.paths.mainFile, state: 'unread', entries: [] };
  }

  /**
   * Read the files (or, if they are broken, the last good copy) and queue their apply on
   * the runner: the agent is ready once its configuration is read, not once every unit
   * it names has started. Call after watch(), so no edit falls between read and watch.
   */
  async start(): Promise<void> {
    const lastGood = await readLastGood(this.opts.lastGoodPath, (m) => this.opts.log.warn(m)).catch((e: unknown) => {
      this.opts.log.warn(`ignoring the last good configuration: ${describeError(e)}`);
      return undefined;
    });
    const previous = lastGood && validateSources(lastGood.sources, { gunzip: boundedGunzip() }).config;
    if (previous) this.applied = previous;
    const loaded = await this.opts.runner.run('read configuration', () => this.read(previous));
    void this.opts.runner.run('apply configuration', () => this.applyInForce(loaded))
      .catch((e: unknown) => this.opts.log.error(`applying the configuration failed: ${describeError(e)}`));
  }

  /** Follow changes of the files; resolves once the watcher has its initial view. */
  async watch(): Promise<void> {
    const { paths } = this.opts;
    this.watcher = chokidar.watch([paths.mainFile, paths.systemDropinDir, paths.adminDropinDir], {
      ignoreInitial: true,
      depth: 0,
      awaitWriteFinish: false,
    });
    this.watcher.on('all', () => {
      this.edits++;
      if (this.debounce) clearTimeout(this.debounce);
      this.debounce = setTimeout(() => {
        // A Reload or ApplyConfig queued meanwhile may have read these edits already.
        void this.opts.runner.run('apply changed configuration', async () => (this.edits === this.editsRead ? undefined : this.readAndApply()))
          .catch(() => undefined);
      }, this.opts.debounceMs ?? 300);
    });
    await new Promise<void>((resolve) => this.watcher!.once('ready', () => resolve()));
  }

  async stop(): Promise<void> {
    if (this.debounce) clearTimeout(this.debounce);
    await this.watcher?.close();
  }

  snapshot(): ConfigStatus {
    return this.status;
  }

  /**
   * Re-read and apply now (Reload, ApplyConfig). When a file is invalid, the configuration
   * in force is applied again (the last good one) and then the refusal is raised: every
   * error with its file and line (config.invalid).
   */
  async reload(): Promise<ApplyReport | undefined> {
    const report = await this.opts.runner.run('apply configuration', () => this.readAndApply());
    if (this.status.state === 'invalid') throw invalidConfigError({ entries: this.status.entries });
    return report;
  }

  /** Apply the configuration in force again (after systemd (re)connected). */
  reapply(): Promise<ApplyReport | undefined> {
    return this.opts.runner.run('apply configuration', () => this.applyInForce(undefined));
  }

  /**
   * What applying the files as they are now would do (PlanConfig): they are read (nothing is
   * put in force); an invalid file is refused with its errors (config.invalid).
   * `containers` plans the container steps of a configuration.
   */
  async plan(containers?: (desired: HostConfig) => Promise<{ steps: string[]; problems: string[] }>): Promise<ConfigPlan> {
    const host = this.requireHost();
    const loaded = await loadConfig(this.opts.paths);
    if (!loaded.config) throw invalidConfigError({ entries: toEntries(loaded.entries, this.opts.paths.mainFile) });
    const desired = loaded.config;
    const plan = planHostConfig(desired, this.applied, await observeHost(desired, this.applied, host));
    const forContainers = await containers?.(desired);
    return {
      steps: [...plan.steps.map(describeStep), ...forContainers?.steps ?? []],
      problems: [...plan.problems, ...forContainers?.problems ?? []],
      notes: plan.notes,
    };
  }

  private requireHost(): HostContext {
    const host = this.opts.host();
    if (!host) throw new Error('systemd is not connected; see agentctl status');
    return host;
  }

  private publish(patch: Partial<ConfigStatus>): void {
    this.status = { ...this.status, ...patch };
    this.opts.onStatus(this.status);
  }

  private async readAndApply(): Promise<ApplyReport | undefined> {
    return this.applyInForce(await this.read());
  }

  /**
   * Read and validate the files; a valid configuration goes in force. `fallback` is the
   * last good config, put in force when the files are broken at start.
   * Returns the files to save as the last good configuration once applied.
   */
  private async read(fallback?: HostConfig): Promise<LoadedConfig | undefined> {
    this.editsRead = this.edits;
    const { paths, log } = this.opts;
    const loaded = await loadConfig(paths);
    const entries = toEntries(loaded.entries, paths.mainFile);
    const loadedAt = new Date().toISOString();
    if (!loaded.config) {
      for (const e of entries) log.warn(`${e.file}: line ${e.line}: ${e.level}: ${e.message}`);
      log.error('configuration has errors: not applied; the last good configuration stays in force');
      const invalidFiles = [...new Set(entries.filter((e) => e.level === 'error').map((e) => e.file))];
      this.publish({ state: 'invalid', invalidFiles, entries, loadedAt });
      if (!this.inForce && fallback) this.inForce = { config: fallback, source: 'last-good' };
      return undefined;
    }
    this.publish({ state: loaded.files.length === 0 ? 'missing' : 'ok', invalidFiles: undefined, entries, loadedAt });
    this.inForce = { config: loaded.config, source: 'files' };
    return loaded;
  }

  /** Apply the configuration in force; save `loaded` as the last good one once applied. */
  private async applyInForce(loaded: LoadedConfig | undefined): Promise<ApplyReport | undefined> {
    if (!this.inForce) return undefined;
    await this.opts.onConfig?.(this.inForce.config);
    const report = await this.apply(this.inForce.config, this.inForce.source);
    if (report && !report.error && loaded) await saveLastGood(this.opts.lastGoodPath, loaded.files);
    return report;
  }

  private async apply(desired: HostConfig, source: ApplyReport['source']): Promise<ApplyReport | undefined> {
    const host = this.opts.host();
    if (!host) {
      this.opts.log.info('systemd is not connected: the configuration will be applied once it is');
      return undefined;
    }
    const plan = planHostConfig(desired, this.applied, await observeHost(desired, this.applied, host));
    let steps;
    try {
      steps = await executeSteps(plan.steps, host, (r) => {
        if (r.error) this.opts.log.error(`${r.step}: ${r.error}`);
        else this.opts.log.info(r.step);
      });
    } catch (e) {
      this.opts.log.error(`the configuration was not applied, nothing changed: ${describeError(e)}`);
      const error = { code: isAgentError(e) ? e.code : 'config.apply-failed', message: describeError(e) };
      const report: ApplyReport = { at: new Date().toISOString(), source, steps: [], problems: plan.problems, error };
      this.publish({ lastApply: report });
      return report;
    }
    for (const p of plan.problems) this.opts.log.warn(p);
    for (const n of plan.notes) this.opts.log.info(n);
    this.applied = desired;
    const report: ApplyReport = { at: new Date().toISOString(), source, steps, problems: plan.problems };
    this.publish({ lastApply: report });
    return report;
  }
}
