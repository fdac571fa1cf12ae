/**
 * The containers of the configuration in force, made real through systemd: observes the
 * installed container units and the image store, plans with planContainers
 * (agent/core/plan/containers.ts), executes the steps and plans again until nothing is
 * left; answers the container methods (list, start, stop, restart, rm, run); publishes
 * container states to the status board (kept by ./container-states.ts from systemd's
 * PropertiesChanged signals).
 *
 * Invariants: every change runs on the agent's ExclusiveRunner, one at a time; nothing is
 * reconciled before a configuration was given (so a starting agent never removes what it
 * has not yet been told about); a bad declaration only affects that container; a host port
 * has one holder (a declaration or run whose port another container forwards, or the host
 * listens on, is refused: agent/core/network/ports.ts).
 */
import { readdir, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import type { ContainerStatus, RunRequest, RunResult, UnitStatus } from '../api/agent1.js';
import type { AppStatus } from '../api/containers.js';
import type { ContainerNetworkStatus } from '../api/containers.js';
import type { App, Container, HostConfig } from '../core/config/types.js';
import { answersTo, labelOf } from '../core/image/match.js';
import type { ImageRecord } from '../core/image/record.js';
import { acNameProblem } from '../core/appc/names.js';
import { containerUnitName, type RenderedContainer } from '../core/containers/render.js';
import { appUnitName } from '../core/containers/pod.js';
import type { AppSpec, ContainerSpec, PortSpec } from '../core/containers/spec.js';
import { ContainerSpecError } from '../core/containers/validate.js';
import { chooseNetwork, networkNameOf } from '../core/network/choice.js';
import { portConflict, type PortHolder } from '../core/network/ports.js';
import { listeningPorts } from '../host/network/listening.js';
import { AgentError, describeError, isAgentError } from '../core/errors.js';
import {
  describeContainerStep, explainContainerPlan, isRunningState, planContainers, rejectionError, type ContainerStep, type DeclaredContainer,
  type InstalledContainerUnit, type PlanError, type PreparedContainer,
} from '../core/plan/containers.js';
import type { AgentHandlers } from '../host/bus/service.js';
import type { ContainerUnits } from '../host/containers/units.js';
import { containersDir } from '../host/containers/paths.js';
import { prepareLayer } from '../host/containers/layer.js';
import type { SystemdManager } from '../host/systemd/manager.js';
import type { Logger } from '../host/log/logger.js';
import type { ImageHolder, ImageService } from './image-service.js';
import { imageOfRun, networkOfRun, portsOfRun, transientProperties } from './container-run.js';
import { CONTAINER_UNIT, ContainerStates } from './container-states.js';
import type { ExclusiveRunner } from './runner.js';

/** The image store as containers need it. */
export interface ContainerImages {
  /** The record of the stored image for a reference as written (an ID, NAME[:VERSION][,LABEL=VALUE]…), or undefined. */
  find(image: string): Promise<ImageRecord | undefined>;
  /** Fetch and verify an image by name into the store. */
  fetch(image: string): Promise<void>;
}

/** ContainerImages over the agent's ImageService. */
export function serviceImages(service: ImageService): ContainerImages {
  return {
    async find(image) {
      try {
        return (await service.get(image)).record;
      } catch (e) {
        if (isAgentError(e, 'image.not-in-store')) return undefined;
        throw e;
      }
    },
    async fetch(image) {
      await service.fetch({ image, insecureOptions: [] });
    },
  };
}

export interface ContainerServiceOptions {
  runner: ExclusiveRunner;
  log: Logger;
  units: ContainerUnits;
  images: ContainerImages;
  stateDir: string;
  /** Where payload output goes (as given to ContainerUnits). */
  output: 'journal' | 'file';
  bus: 'system' | 'session';
  onStatus: (containers: ContainerStatus[]) => void;
  /** How many systemd jobs (start, stop) run at once. Default 32. */
  parallelJobs?: number;
  /** Passes of plan + execute per reconcile at most. Default 8. */
  maxPasses?: number;
  /** The kernel's socket tables of the host's network namespace. Default `/proc/net`. */
  procNet?: string;
}

export type ContainerHandlers = Pick<AgentHandlers, 'ListContainers' | 'StartContainer' | 'StopContainer' | 'RestartContainer' | 'RemoveContainer' | 'RunContainer'>;

/**
 * An image a container runs instead of resolving its declared reference (image
 * auto-update): applies while the container has `auto-update: true` and is declared with
 * `image` as written.
 */
export interface ImagePin {
  image: string;
  id: string;
}

/** What one reconcile did. */
export interface ContainerReport {
  steps: Array<{ step: string; error?: string }>;
  errors: Array<{ container: string; error: PlanError }>;
}

interface Declared {
  spec: Container;
  /** A pod's apps: the image each runs. */
  apps?: Array<{ name: string; imageId: string; version?: string }>;
  imageId?: string;
  /** The image's layer IDs, bottom first. */
  imageLayers?: string[];
  version?: string;
  rendered?: RenderedContainer;
  error?: PlanError;
  pending?: boolean;
}

interface Run {
  name: string;
  image: string;
  /** The image ID it runs; undefined for a unit that does not name one. */
  imageId: string | undefined;
  unit: string;
  /** The network it runs on: `host`, `none`, `default` or a declared one. */
  network: string;
  /** The host ports forwarded to it. */
  ports: PortSpec[];
}

function planError(e: unknown): PlanError {
  if (e instanceof AgentError) return { code: e.code, message: e.message, ...(e.hint !== undefined && { hint: e.hint }) };
  return { code: 'container.failed', message: describeError(e) };
}

async function inBatches<T>(items: readonly T[], size: number, each: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(each));
}

export class ContainerService {
  private manager: SystemdManager | undefined;
  private detach: Array<() => void> = [];
  private desired: Container[] | undefined;
  /** `host-agent.networks` of the configuration in force. */
  private networks: HostConfig['networks'] = [];
  /** The address of each running container on a network of its own. */
  private addresses = new Map<string, string>();
  private readingAddresses = false;
  private declared = new Map<string, Declared>();
  /** Declarations the configuration rejected, by name, with why: their units are left as they are. */
  private rejected = new Map<string, PlanError>();
  /** The unit files of each installed container, as last observed. */
  private installedFiles = new Map<string, string[]>();
  /** The image ID each installed container unit runs, as last observed. */
  private installedImages = new Map<string, string>();
  /** Every image ID the unit files of each installed container name (a pod: its apps'). */
  private installedImageSets = new Map<string, string[]>();
  private readonly runs = new Map<string, Run>();
  private leftovers: string[] = [];
  private readonly states: ContainerStates;
  private fetchFailed = new Map<string, PlanError>();
  private pins: ReadonlyMap<string, ImagePin> = new Map();

  constructor(private readonly opts: ContainerServiceOptions) {
    this.states = new ContainerStates({
      manager: () => this.manager,
      output: opts.output,
      bus: opts.bus,
      outputFile: (name) => opts.units.paths(name).output,
      onRead: (name, status) => {
        // A one-off run whose transient unit is gone leaves its layer until agentctl rm.
        if (this.runs.has(name) && status.loadState === 'not-found') {
          this.runs.delete(name);
          if (!this.leftovers.includes(name)) this.leftovers.push(name);
        }
      },
      onChange: () => this.publish(),
    });
  }

  /** Follow container units through `manager` (called on every (re)connection). */
  async attach(manager: SystemdManager): Promise<void> {
    for (const d of this.detach) d();
    this.manager = manager;
    this.detach = [
      manager.onUnitPropertiesChanged((unit, changed) => {
        if (this.tracks(unit)) this.states.changed(unit, changed);
      }),
    ];
    await this.opts.runner.run('read container states', async () => {
      await this.observeInstalled();
      // Container units loaded without a unit file are one-off runs (of an earlier agent).
      for (const u of await manager.listUnits(['container-*.service']).catch(() => [])) {
        const name = CONTAINER_UNIT.exec(u.name)?.[1];
        if (name !== undefined && !this.installedFiles.has(name) && !this.runs.has(name) && u.loadState === 'loaded') {
          this.runs.set(name, {
            name, image: '', imageId: imageOfRun(u.description), unit: u.name, network: networkOfRun(u.description), ports: portsOfRun(u.description),
          });
        }
      }
      await this.refreshAll(true);
    });
    if (this.desired) void this.reconcile().catch((e: unknown) => this.opts.log.error(`reconciling containers failed: ${describeError(e)}`));
  }

  stop(): void {
    for (const d of this.detach) d();
    this.detach = [];
    this.states.stop();
    this.manager = undefined;
  }

  /**
   * Make the containers of `config` (or of the last one given) real. Queued on the runner:
   * do not await it from inside another runner operation.
   */
  reconcile(config?: HostConfig): Promise<ContainerReport> {
    if (config) {
      this.desired = config.containers;
      this.networks = config.networks;
      this.rejected = new Map(config.rejectedContainers.map((r) => [r.name, rejectionError(r)]));
    }
    return this.opts.runner.run('reconcile containers', () => this.reconcileNow());
  }

  /** Pins by container name (image auto-update); the next reconcile follows them. */
  setImagePins(pins: ReadonlyMap<string, ImagePin>): void {
    this.pins = new Map(pins);
  }

  /**
   * Every image a container holds, with why: what a declaration resolves to, what an
   * installed unit runs (declared or not, running or not), what a one-off run runs.
   * `agentctl image rm` refuses these images and gc keeps them.
   */
  imageHolders(): ImageHolder[] {
    const holders: ImageHolder[] = [];
    const add = (imageId: string | undefined, container: string, why: string): void => {
      if (imageId !== undefined) holders.push({ imageId, container, why });
    };
    for (const [name, d] of this.declared) {
      if (d.apps === undefined) add(d.imageId, name, 'declared');
      for (const a of d.apps ?? []) add(a.imageId, name, `declared (app ${a.name})`);
    }
    for (const [name, ids] of this.installedImageSets) {
      for (const id of ids) add(id, name, `unit ${this.states.partOf(containerUnitName(name)).state}`);
    }
    for (const r of this.runs.values()) add(r.imageId, r.name, `one-off run ${this.states.partOf(r.unit).state}`);
    return holders;
  }

  /** The container states as ListContainers gives them. */
  snapshot(): ContainerStatus[] {
    return this.statuses();
  }

  /** The unit of container `name` as systemd has it now (read, not from signals). */
  async unitStatus(name: string): Promise<UnitStatus> {
    return this.requireManager().unitStatus(containerUnitName(name));
  }

  /** The last lines container `name` printed, read now. */
  lastOutput(name: string): Promise<string[]> {
    return this.states.lastOutput(name);
  }

  /** The D-Bus handlers of the container methods. */
  handlers(): ContainerHandlers {
    return {
      ListContainers: async () => [JSON.stringify(this.statuses())],
      StartContainer: async (name) => { await this.start(String(name)); return []; },
      StopContainer: async (name) => { await this.stopContainer(String(name)); return []; },
      RestartContainer: async (name) => { await this.restart(String(name)); return []; },
      RemoveContainer: async (name) => { await this.remove(String(name)); return []; },
      RunContainer: async (json) => [JSON.stringify(await this.run(parseRunRequest(json)))],
    };
  }

  async start(name: string): Promise<void> {
    await this.opts.runner.run(`start container ${name}`, async () => {
      const unit = this.unitOf(name);
      const manager = this.requireManager();
      await manager.resetFailed(unit);
      await manager.start(unit);
    });
  }

  async stopContainer(name: string): Promise<void> {
    await this.opts.runner.run(`stop container ${name}`, () => this.stopUnit(this.unitOf(name)));
  }

  async restart(name: string): Promise<void> {
    await this.opts.runner.run(`restart container ${name}`, async () => {
      const unit = this.unitOf(name);
      const manager = this.requireManager();
      await manager.resetFailed(unit);
      await manager.restart(unit);
    });
  }

  /** `agentctl rm`: a run, or the writable layer of a container no longer declared. */
  async remove(name: string): Promise<void> {
    await this.opts.runner.run(`remove container ${name}`, async () => {
      if (this.declared.has(name) || this.rejected.has(name)) {
        throw new AgentError({
          code: 'container.declared',
          message: 'the container is declared in the configuration',
          subject: `container ${name}`,
          hint: 'Remove it from host-agent.containers first; its unit is then stopped and removed, and agentctl rm removes its writable layer',
        });
      }
      if (this.installedFiles.has(name)) {
        throw new AgentError({ code: 'container.still-installed', message: 'its unit is still being removed', subject: `container ${name}`, hint: 'Retry in a moment' });
      }
      const manager = this.requireManager();
      const unit = containerUnitName(name);
      // Read, not remembered: systemd unloads the transient unit of a run that finished
      // (then the run is a leftover layer, see onRead), and no signal says so.
      if (this.runs.has(name)) await this.states.read([unit]);
      const run = this.runs.has(name);
      if (!run && (!this.leftovers.includes(name) || (this.desired ?? []).some((c) => c.name === name))) {
        throw new AgentError({ code: 'container.not-found', message: 'no such container', subject: name, hint: 'See agentctl ps' });
      }
      if (run) {
        await this.stopUnit(unit);
        this.runs.delete(name);
      }
      await manager.resetFailed(unit);
      await this.opts.units.removeLayer(name);
      this.states.forget(unit);
      this.leftovers = this.leftovers.filter((n) => n !== name);
      this.publish();
    });
  }

  /** `agentctl run`: the image as a transient unit; resolves once the payload runs. */
  async run(request: RunRequest): Promise<RunResult> {
    return this.opts.runner.run('run a container', async () => {
      const name = request.name ?? `run-${randomBytes(4).toString('hex')}`;
      const problem = acNameProblem(name);
      if (problem !== undefined) {
        throw new AgentError({ code: 'container.invalid-name', message: `"${name}" is not an AC Name: ${problem}`, hint: 'Use lowercase letters, digits and dashes, e.g. web-2' });
      }
      const unit = containerUnitName(name);
      const manager = this.requireManager();
      if (this.declared.has(name) || this.installedFiles.has(name) || isRunningState((await manager.unitStatus(unit)).activeState)) {
        throw new AgentError({ code: 'container.name-taken', message: 'a container of this name exists', subject: name, hint: 'Choose another --name, or remove the old run with agentctl rm' });
      }
      let image = await this.opts.images.find(request.image);
      if (!image) {
        await this.opts.images.fetch(request.image);
        image = await this.opts.images.find(request.image);
      }
      if (!image) throw new AgentError({ code: 'container.image-missing', message: 'the image is not in the store', subject: request.image, hint: 'Fetch it with agentctl fetch' });
      // Without --network a run shares the host's network, as runs always did.
      const choice = { network: request.network ?? 'host', dns: [], isolation: 'nspawn' as const };
      const network = chooseNetwork(choice, this.networks);
      if (typeof network === 'string') {
        throw new AgentError({ code: 'container.invalid-network', message: network, subject: name, hint: 'Run it with --network default, host, none or a network of host-agent.networks (agentctl config show)' });
      }
      const ports = request.ports ?? [];
      const held = [...this.declaredForwards(), ...this.runForwards()];
      const conflict = portConflict(name, ports, held, await this.listeningIf(network.mode !== 'host' && ports.length > 0));
      if (conflict) throw conflict;
      const spec = await this.opts.units.complete({
        name, image, environment: {}, volumes: [], ports, restart: 'no', isolation: 'nspawn', network,
        ...(request.exec !== undefined && request.exec.length > 0 && { exec: request.exec }),
      });
      await this.opts.units.render(spec);
      const host = this.opts.units.hostFor(spec);
      await manager.resetFailed(unit);
      await prepareLayer(this.opts.units.paths(name), host.imageLayers);
      if (host.outputFile !== undefined) await writeFile(host.outputFile, '', { mode: 0o600 });
      this.runs.set(name, { name, image: request.image, imageId: image.id, unit, network: networkNameOf(choice), ports });
      await manager.startTransient(unit, await transientProperties(spec, host));
      this.states.markDirty(unit);
      return { name, unit, ...(host.outputFile !== undefined && { outputFile: host.outputFile }) };
    });
  }

  private requireManager(): SystemdManager {
    if (!this.manager) {
      throw new AgentError({ code: 'systemd.unreachable', message: 'systemd is not connected', hint: 'See agentctl status' });
    }
    return this.manager;
  }

  private unitOf(name: string): string {
    const d = this.declared.get(name);
    if (d?.rendered || this.installedFiles.has(name) || this.runs.has(name)) return containerUnitName(name);
    throw new AgentError({
      code: 'container.not-found',
      message: d?.error ? `the container cannot run: ${d.error.message}` : 'no such container',
      subject: name,
      hint: d ? 'Fix its declaration in host-agent.containers' : 'See agentctl ps',
    });
  }

  /** Stop, and forget the failed state a stop by signal leaves (nspawn exits 255). */
  private async stopUnit(unit: string): Promise<void> {
    const manager = this.requireManager();
    await manager.stop(unit);
    const status = await manager.unitStatus(unit).catch(() => undefined);
    if (status?.activeState === 'failed') await manager.resetFailed(unit);
    if (status) this.states.stopped(unit, status);
  }

  /**
   * What reconciling `config` would do now (`agentctl config plan`), explained: nothing is
   * changed and nothing fetched. Its errors are the containers left as they are.
   */
  async plan(config: HostConfig): Promise<{ steps: string[]; problems: string[] }> {
    const manager = this.requireManager();
    const rejected = new Map(config.rejectedContainers.map((r) => [r.name, rejectionError(r)]));
    const { declared: _, ...observation } = await this.observe(manager, config.containers);
    return explainContainerPlan(planContainers(declarationsOf(config.containers, rejected), observation), observation.installed);
  }

  private async reconcileNow(): Promise<ContainerReport> {
    const report: ContainerReport = { steps: [], errors: [] };
    const manager = this.manager;
    const desired = this.desired;
    if (!manager || !desired) return report;
    const started = new Set<string>();
    this.fetchFailed = new Map();
    const passes = this.opts.maxPasses ?? 8;
    for (let pass = 0; pass < passes; pass++) {
      const { declared, ...observation } = await this.observe(manager, desired);
      this.declared = declared;
      const plan = planContainers(declarationsOf(desired, this.rejected), { ...observation, started });
      report.errors = plan.errors;
      this.applyErrors(plan.errors);
      this.publish();
      if (plan.steps.length === 0) break;
      for (const result of await this.execute(manager, plan.steps, started)) report.steps.push(result);
    }
    await this.observeInstalled();
    await this.refreshAll();
    for (const e of report.errors) this.opts.log.error(`container ${e.container}: ${e.error.message}`);
    return report;
  }

  private applyErrors(errors: ContainerReport['errors']): void {
    for (const { container, error } of errors) {
      const d = this.declared.get(container);
      if (d) d.error = error;
    }
  }

  /** Installed units with their states, and what each declaration renders to now. */
  private async observe(
    manager: SystemdManager, desired: Container[],
  ): Promise<{ installed: InstalledContainerUnit[]; prepared: Map<string, PreparedContainer>; declared: Map<string, Declared> }> {
    const installed = await this.observeInstalled();
    const installedUnits = new Map(installed.map((u) => [u.name, { hash: u.hash, imageId: this.installedImages.get(u.name) }]));
    const loaded = new Map((await manager.listUnits(['container-*.service'])).map((u) => [u.name, u.activeState]));
    const declared = new Map<string, Declared>();
    const prepared = new Map<string, PreparedContainer>();
    const images = new Map<string, Promise<ImageRecord | undefined>>();
    const runForwards = this.runForwards();
    const listening = await this.listeningIf(desired.some((c) => forwardsOnOwnNetwork(c)));
    await Promise.all(desired.map(async (spec) => {
      const d: Declared = { spec };
      declared.set(spec.name, d);
      const failed = this.fetchFailed.get(spec.name);
      if (failed) {
        d.error = failed;
        prepared.set(spec.name, { kind: 'refused', error: failed });
        return;
      }
      const find = (ref: string): Promise<ImageRecord | undefined> => {
        let lookup = images.get(ref);
        if (!lookup) {
          lookup = this.opts.images.find(ref);
          images.set(ref, lookup);
        }
        return lookup;
      };
      const pin = this.pins.get(spec.name);
      try {
        // Declared containers among themselves: refused by the configuration (build.ts).
        const conflict = portConflict(spec.name, spec.ports, runForwards, forwardsOnOwnNetwork(spec) ? listening : new Set());
        if (conflict) throw conflict;
        if (spec.apps) {
          await this.preparePod(spec, d, find, prepared);
          return;
        }
        // A pinned image missing from the store falls back to the declared reference.
        const pinned = spec.autoUpdate && pin?.image === spec.imageText ? await find(pin.id) : undefined;
        const kept = pinned ? undefined : await this.keptImage(spec, installedUnits.get(spec.name), find);
        const image = pinned ?? kept?.image ?? await find(spec.imageText);
        if (!image) {
          d.pending = true;
          prepared.set(spec.name, { kind: 'image-missing' });
          return;
        }
        d.imageId = image.id;
        d.imageLayers = image.layers;
        const version = labelOf(image, 'version');
        if (version !== undefined) d.version = version;
        d.rendered = kept?.rendered ?? await this.opts.units.render(toSpec(spec, image, this.networks));
        prepared.set(spec.name, { kind: 'rendered', unit: d.rendered.unit, hash: d.rendered.hash, imageId: image.id });
      } catch (e) {
        d.error = planError(e);
        prepared.set(spec.name, { kind: 'refused', error: d.error });
      }
    }));
    return {
      installed: installed.map((u) => ({ ...u, activeState: loaded.get(u.unit) ?? 'inactive' })),
      prepared,
      declared,
    };
  }

  /**
   * A pod: each app's image resolved from its reference (a pod does not keep an older
   * import as a container does), the first one missing fetched first.
   */
  private async preparePod(
    spec: Container, d: Declared, find: (ref: string) => Promise<ImageRecord | undefined>, prepared: Map<string, PreparedContainer>,
  ): Promise<void> {
    const apps = spec.apps ?? [];
    const images = await Promise.all(apps.map((a) => find(a.imageText)));
    const missing = apps.find((_, i) => images[i] === undefined);
    if (missing) {
      d.pending = true;
      prepared.set(spec.name, { kind: 'image-missing', image: missing.imageText });
      return;
    }
    const records = images as ImageRecord[];
    d.imageId = records[0]!.id;
    d.imageLayers = records[0]!.layers;
    d.apps = apps.map((a, i) => {
      const version = labelOf(records[i]!, 'version');
      return { name: a.name, imageId: records[i]!.id, ...(version !== undefined && { version }) };
    });
    d.rendered = await this.opts.units.render(toSpec(spec, records[0]!, this.networks, records));
    prepared.set(spec.name, { kind: 'rendered', unit: d.rendered.unit, hash: d.rendered.hash, imageId: d.imageId });
  }

  /**
   * The image the installed unit of `spec` runs, kept while the declaration is unchanged:
   * still stored, still named by the declared reference, and rendering to the installed
   * hash. A newer import of the same name and version does not move a container; a
   * changed declaration (or an auto-update pin) does.
   */
  private async keptImage(
    spec: Container,
    installed: { hash: string | undefined; imageId: string | undefined } | undefined,
    find: (ref: string) => Promise<ImageRecord | undefined>,
  ): Promise<{ image: ImageRecord; rendered: RenderedContainer } | undefined> {
    if (installed?.imageId === undefined || installed.hash === undefined) return undefined;
    const image = await find(installed.imageId);
    if (!image || !answersTo(image, spec.image)) return undefined;
    // Refused with this image: the declared reference is resolved anew (and its error reported).
    const rendered = await this.opts.units.render(toSpec(spec, image, this.networks)).catch(() => undefined);
    return rendered?.hash === installed.hash ? { image, rendered } : undefined;
  }

  private async observeInstalled(): Promise<InstalledContainerUnit[]> {
    const installed = await this.opts.units.installed();
    this.installedFiles = new Map(installed.map((u) => [u.name, u.files]));
    this.installedImages = new Map(installed.flatMap((u) => (u.imageId === undefined ? [] : [[u.name, u.imageId] as const])));
    this.installedImageSets = new Map(installed.map((u) => [u.name, u.imageIds]));
    const layers = await readdir(containersDir(this.opts.stateDir)).catch(() => [] as string[]);
    this.leftovers = layers.filter((n) => acNameProblem(n) === undefined);
    return installed.map((u) => ({ name: u.name, unit: u.unit, hash: u.hash, activeState: 'inactive' }));
  }

  private async execute(manager: SystemdManager, steps: ContainerStep[], started: Set<string>): Promise<Array<{ step: string; error?: string }>> {
    const results: Array<{ step: string; error?: string }> = [];
    const parallel = this.opts.parallelJobs ?? 32;
    const runOne = async (step: ContainerStep): Promise<void> => {
      const text = describeContainerStep(step);
      try {
        await this.executeStep(manager, step, started);
        results.push({ step: text });
        this.opts.log.info(text);
      } catch (e) {
        const error = planError(e);
        if (step.kind === 'fetch-image') {
          this.fetchFailed.set(step.container, {
            code: 'container.image-unavailable',
            message: `image ${step.image} is not in the store and cannot be fetched: ${error.message}`,
            hint: error.hint ?? 'Fetch it with agentctl fetch, or fix the image name',
          });
        }
        results.push({ step: text, error: describeError(e) });
        this.opts.log.error(`${text}: ${describeError(e)}`);
      }
    };
    // Same kinds run together (the planner orders them); a daemon reload stands alone.
    let batch: ContainerStep[] = [];
    const flush = async (): Promise<void> => {
      await inBatches(batch, parallel, runOne);
      batch = [];
    };
    for (const step of steps) {
      if (batch.length > 0 && (batch[0]!.kind !== step.kind || step.kind === 'daemon-reload')) await flush();
      batch.push(step);
    }
    await flush();
    return results;
  }

  private async executeStep(manager: SystemdManager, step: ContainerStep, started: Set<string>): Promise<void> {
    switch (step.kind) {
      case 'fetch-image': return this.opts.images.fetch(step.image);
      case 'write-unit': {
        const { rendered, imageLayers } = this.declared.get(step.container) ?? {};
        if (!rendered || imageLayers === undefined) throw new Error(`container ${step.container} has no rendered unit`);
        await this.opts.units.install(step.container, rendered, imageLayers, this.installedFiles.get(step.container) ?? []);
        // Enabled through systemd, so the container comes back at boot without the agent.
        await manager.enable([rendered.unit]);
        return;
      }
      case 'remove-unit': {
        await manager.disable([step.unit]);
        await this.opts.units.uninstall(step.container, this.installedFiles.get(step.container) ?? []);
        return;
      }
      case 'daemon-reload': return manager.daemonReload();
      case 'reset-failed': return manager.resetFailed(step.unit);
      case 'stop': return this.stopUnit(step.unit);
      case 'start':
        started.add(step.container);
        return manager.start(step.unit);
    }
  }

  private tracks(unit: string): boolean {
    const name = CONTAINER_UNIT.exec(unit)?.[1];
    if (name === undefined) return this.appUnits().includes(unit);
    return this.declared.has(name) || this.installedFiles.has(name) || this.runs.has(name);
  }

  /** The app units of the declared pods. */
  private appUnits(): string[] {
    return (this.desired ?? []).flatMap((c) => (c.apps ?? []).map((a) => appUnitName(c.name, a.name)));
  }

  /** Reads the units whose state is not known yet (all, with `all`); later changes come as signals. */
  private async refreshAll(all = false): Promise<void> {
    const names = new Set([...this.declared.keys(), ...this.installedFiles.keys(), ...this.runs.keys()]);
    await this.states.read([...[...names].map(containerUnitName), ...this.appUnits()], !all);
    this.publish();
  }

  private statuses(): ContainerStatus[] {
    const out: ContainerStatus[] = [];
    const seen = new Set<string>();
    for (const c of this.desired ?? []) {
      if (seen.has(c.name)) continue;
      seen.add(c.name);
      const unit = containerUnitName(c.name);
      const d = this.declared.get(c.name);
      const error = d?.error;
      out.push({
        name: c.name, kind: 'declared', image: c.apps ? '' : c.imageText, unit, ...this.states.partOf(unit),
        ...(d?.imageId !== undefined && { imageId: d.imageId }),
        ...(d?.version !== undefined && { version: d.version }),
        ...(error ? { state: 'error' as const, error } : d?.pending ? { state: 'pending' as const } : {}),
        network: this.networkStatus(c.name, networkNameOf(c), c.ports),
        ...(c.apps && { apps: this.appStatuses(c, d) }),
      });
    }
    // A rejected declaration: the unit of its last good state, if any, runs on as it is.
    for (const [name, error] of this.rejected) {
      if (seen.has(name)) continue;
      seen.add(name);
      const unit = containerUnitName(name);
      const installed = this.installedFiles.has(name);
      out.push({ name, kind: 'declared', image: '', unit, ...this.states.partOf(unit), ...(!installed && { state: 'error' as const }), error });
    }
    for (const name of this.installedFiles.keys()) {
      if (seen.has(name)) continue;
      seen.add(name);
      const unit = containerUnitName(name);
      out.push({ name, kind: 'declared', image: '', unit, ...this.states.partOf(unit), state: 'removed' });
    }
    for (const r of this.runs.values()) {
      if (seen.has(r.name)) continue;
      seen.add(r.name);
      out.push({ name: r.name, kind: 'run', image: r.image, unit: r.unit, ...this.states.partOf(r.unit), network: this.networkStatus(r.name, r.network, r.ports) });
    }
    for (const name of this.leftovers) {
      if (seen.has(name)) continue;
      seen.add(name);
      const unit = containerUnitName(name);
      out.push({ name, kind: 'declared', image: '', unit, ...this.states.partOf(unit), state: 'removed' });
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  private appStatuses(c: Container, d: Declared | undefined): AppStatus[] {
    return (c.apps ?? []).map((a) => {
      const unit = appUnitName(c.name, a.name);
      const { state, activeState, mainPid, exitStatus } = this.states.partOf(unit);
      const resolved = d?.apps?.find((r) => r.name === a.name);
      return {
        name: a.name, image: a.imageText, unit, state, activeState, mainPid,
        ...(exitStatus !== undefined && { exitStatus }),
        ...(resolved && { imageId: resolved.imageId }),
        ...(resolved?.version !== undefined && { version: resolved.version }),
      };
    });
  }

  private publish(): void {
    this.opts.onStatus(this.statuses());
    void this.refreshAddresses();
  }

  /** The host ports the declared containers forward. */
  private declaredForwards(): PortHolder[] {
    return (this.desired ?? []).flatMap((c) => c.ports.map((p) => ({ container: c.name, host: p.host, protocol: p.protocol })));
  }

  /** The host ports the running one-off runs forward (a run's network, and its ports, go when it ends). */
  private runForwards(): PortHolder[] {
    return [...this.runs.values()].filter((r) => isRunningState(this.states.partOf(r.unit).activeState))
      .flatMap((r) => r.ports.map((p) => ({ container: r.name, host: p.host, protocol: p.protocol })));
  }

  /** The ports the host listens on, read only when `needed`. */
  private async listeningIf(needed: boolean): Promise<ReadonlySet<string>> {
    return needed ? listeningPorts(this.opts.procNet) : new Set();
  }

  private networkStatus(container: string, network: string, ports: Container['ports']): ContainerNetworkStatus {
    const address = this.addresses.get(container);
    return { name: network, ...(address !== undefined && { address }), ports: ports.map((p) => `${p.host}:${p.container}/${p.protocol}`) };
  }

  /**
   * Reads the address of each running container on a network of its own (the helper's
   * cached result, written before the container started) and publishes again when one
   * changed. One read at a time; a change during a read is picked up by the next publish.
   */
  private async refreshAddresses(): Promise<void> {
    if (this.readingAddresses) return;
    this.readingAddresses = true;
    try {
      const next = new Map<string, string>();
      const all = [...(this.desired ?? []).map((c) => ({ name: c.name, network: networkNameOf(c) })), ...this.runs.values()];
      for (const { name, network } of all) {
        if (network === 'host' || network === 'none') continue;
        if (!isRunningState(this.states.partOf(containerUnitName(name)).activeState)) continue;
        const address = await this.opts.units.networkAddress(name, network);
        if (address !== undefined) next.set(name, address);
      }
      const changed = next.size !== this.addresses.size || [...next].some(([k, v]) => this.addresses.get(k) !== v);
      this.addresses = next;
      if (changed) this.opts.onStatus(this.statuses());
    } finally {
      this.readingAddresses = false;
    }
  }
}

/**
 * Whether the declaration forwards ports through DNAT on a network of its own (on the
 * host's network the payload binds them itself, and the kernel refuses a port in use).
 */
function forwardsOnOwnNetwork(c: Container): boolean {
  const network = networkNameOf(c);
  return c.ports.length > 0 && network !== 'host' && network !== 'none';
}

/** The planner's declarations: the valid ones and those the configuration rejected. */
function declarationsOf(desired: readonly Container[], rejected: ReadonlyMap<string, PlanError>): DeclaredContainer[] {
  return [
    ...desired.map((c) => ({ name: c.name, image: c.imageText })),
    ...[...rejected].map(([name, error]) => ({ name, image: '', rejected: error })),
  ];
}

function parseRunRequest(json: unknown): RunRequest {
  let value: unknown;
  try {
    value = JSON.parse(String(json));
  } catch (e) {
    throw new AgentError({ code: 'agent.bad-request', message: 'RunContainer takes a RunRequest JSON document', hint: 'See docs/dbus-api.md', cause: e });
  }
  const r = value as Partial<RunRequest>;
  const strings = (v: unknown): boolean => Array.isArray(v) && v.every((x) => typeof x === 'string');
  const optionalString = (v: unknown): boolean => v === undefined || typeof v === 'string';
  const port = (p: unknown): boolean => typeof p === 'object' && p !== null && Number.isInteger((p as PortSpec).host)
    && Number.isInteger((p as PortSpec).container) && ['tcp', 'udp'].includes((p as PortSpec).protocol);
  const ports = r?.ports === undefined || (Array.isArray(r.ports) && r.ports.every(port));
  if (typeof r?.image !== 'string' || !optionalString(r.name) || (r.exec !== undefined && !strings(r.exec)) || !optionalString(r.network) || !ports) {
    throw new AgentError({ code: 'agent.bad-request', message: 'RunContainer takes {image, name?, exec?, network?, ports?}', hint: 'See docs/dbus-api.md' });
  }
  return {
    image: r.image, ...(r.name !== undefined && { name: r.name }), ...(r.exec !== undefined && { exec: r.exec }),
    ...(r.network !== undefined && { network: r.network }),
    ...(r.ports !== undefined && { ports: r.ports.map((p) => ({ host: p.host, container: p.container, protocol: p.protocol })) }),
  };
}

/** The renderer's input from a declaration and its stored image (a pod: its apps' images, in order). */
export function toSpec(c: Container, image: ImageRecord, networks: HostConfig['networks'] = [], appImages: readonly ImageRecord[] = []): ContainerSpec {
  const network = chooseNetwork(c, networks);
  if (typeof network === 'string') throw new ContainerSpecError(c.name, [{ field: 'network', message: network }]);
  return {
    name: c.name,
    image,
    ...(c.exec !== undefined && { exec: c.exec }),
    environment: c.environment,
    ...(c.user !== undefined && { user: c.user }),
    ...(c.group !== undefined && { group: c.group }),
    ...(c.workingDirectory !== undefined && { workingDirectory: c.workingDirectory }),
    volumes: c.volumes,
    ports: c.ports,
    ...(c.memoryBytes !== undefined && { memoryBytes: c.memoryBytes }),
    ...(c.cpuPercent !== undefined && { cpuPercent: c.cpuPercent }),
    restart: c.restart,
    isolation: c.isolation,
    ...(c.privateUsers !== undefined && { privateUsers: c.privateUsers }),
    network,
    ...(c.apps && { apps: c.apps.map((a, i) => toAppSpec(a, appImages[i] ?? image)) }),
  };
}

function toAppSpec(a: App, image: ImageRecord): AppSpec {
  return {
    name: a.name,
    image,
    ...(a.exec !== undefined && { exec: a.exec }),
    environment: a.environment,
    ...(a.user !== undefined && { user: a.user }),
    ...(a.group !== undefined && { group: a.group }),
    ...(a.workingDirectory !== undefined && { workingDirectory: a.workingDirectory }),
    volumes: a.volumes,
  };
}
