/**
 * The agent's status, assembled from its parts and published: every change is coalesced
 * over a short delay and handed to the listeners (the StatusChanged signal). Parts own
 * their slice; nothing else writes here.
 *
 * While changes keep coming, one status goes out at most every PUBLISH_INTERVAL_MS: a
 * reconcile of 200 containers changes the status every few milliseconds, and at one per
 * 50 ms it sent some 260 statuses of 130 kB each (35 MB to marshal), which also left
 * agentd's memory fragmented.
 */
import type { AgentStatus, ConfigStatus, ContainerStatus, ImageRollback, RebootStatus, SystemdStatus, UnitStatus, UpdateStatusDocument } from '../api/agent1.js';

export type StatusListener = (status: AgentStatus) => void;

const COALESCE_MS = 50;
const PUBLISH_INTERVAL_MS = 500;

export class StatusBoard {
  private readonly startedAt = new Date();
  private state: AgentStatus['state'] = 'starting';
  private systemd: SystemdStatus;
  private config: ConfigStatus;
  private units = new Map<string, UnitStatus>();
  private containers: ContainerStatus[] = [];
  private update: UpdateStatusDocument;
  private reboot: RebootStatus | undefined;
  private imageRollback: ImageRollback | undefined;
  private readonly listeners: StatusListener[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** When the last status went out (performance.now(): monotonic, unlike Date). */
  private publishedAt = -PUBLISH_INTERVAL_MS;

  constructor(readonly version: string, systemd: SystemdStatus, config: ConfigStatus, update: UpdateStatusDocument) {
    this.systemd = systemd;
    this.config = config;
    this.update = update;
  }

  snapshot(now = new Date()): AgentStatus {
    return {
      version: this.version,
      pid: process.pid,
      startedAt: this.startedAt.toISOString(),
      uptimeSeconds: Math.round((now.getTime() - this.startedAt.getTime()) / 1000),
      state: this.state,
      systemd: { ...this.systemd },
      config: { ...this.config, entries: [...this.config.entries] },
      units: [...this.units.values()].sort((a, b) => a.name.localeCompare(b.name)),
      update: { ...this.update },
      ...(this.reboot && { reboot: { ...this.reboot } }),
      containers: this.containers.map((c) => ({ ...c })),
      ...(this.imageRollback && { imageRollback: { ...this.imageRollback } }),
    };
  }

  onChange(listener: StatusListener): void {
    this.listeners.push(listener);
  }

  setState(state: AgentStatus['state']): void {
    this.state = state;
    this.changed();
  }

  setSystemd(systemd: SystemdStatus): void {
    this.systemd = systemd;
    this.changed();
  }

  setConfig(config: ConfigStatus): void {
    this.config = config;
    this.changed();
  }

  setUnits(units: UnitStatus[]): void {
    this.units = new Map(units.map((u) => [u.name, u]));
    this.changed();
  }

  updateUnit(unit: UnitStatus): void {
    this.units.set(unit.name, unit);
    this.changed();
  }

  /** The OS update slice, owned by the UpdateService. */
  setUpdate(update: UpdateStatusDocument): void {
    this.update = update;
    this.changed();
  }

  /** The reboot slice, owned by the RebootCoordinator. */
  setReboot(reboot: RebootStatus): void {
    this.reboot = reboot;
    this.changed();
  }

  /** The containers slice, owned by the ContainerService. */
  setContainers(containers: ContainerStatus[]): void {
    this.containers = [...containers].sort((a, b) => a.name.localeCompare(b.name));
    this.changed();
  }

  /** The latest image rollback, owned by the ImageUpdateService. */
  setImageRollback(rollback: ImageRollback | undefined): void {
    if (JSON.stringify(rollback) === JSON.stringify(this.imageRollback)) return;
    this.imageRollback = rollback;
    this.changed();
  }

  unit(name: string): UnitStatus | undefined {
    return this.units.get(name);
  }

  /** Publish now, skipping the coalescing delay (used at shutdown). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.publishedAt = performance.now();
    const status = this.snapshot();
    for (const l of this.listeners) l(status);
  }

  private changed(): void {
    if (this.timer) return;
    const delay = Math.max(COALESCE_MS, this.publishedAt + PUBLISH_INTERVAL_MS - performance.now());
    this.timer = setTimeout(() => this.flush(), delay);
  }
}
