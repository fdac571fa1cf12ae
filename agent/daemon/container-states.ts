/**
 * What systemd says of each container unit, kept current from its PropertiesChanged
 * signals: the values they carry update the known state without reading the unit back; a
 * unit is read only when it is not known yet or has just failed (then the last lines of
 * its output are read too). Reads are coalesced, and a read that a signal overtook is
 * done again, so an older read never overwrites a newer signal. Changes are published at
 * most every 20 ms.
 */
import type { ContainerStatus, UnitStatus } from '../api/agent1.js';
import { withChangedProperties, type SystemdManager } from '../host/systemd/manager.js';
import { containerUnitName } from '../core/containers/render.js';
import { lastOutput } from './container-run.js';

/** The part of a container's status that comes from its unit. */
export type UnitPart = Omit<ContainerStatus, 'name' | 'kind' | 'image' | 'unit'>;

export interface ContainerStatesOptions {
  /** The manager to read units from; undefined while systemd is not connected. */
  manager: () => SystemdManager | undefined;
  /** Where payload output goes: the container's output file, or the journal on `bus`. */
  output: 'journal' | 'file';
  bus: 'system' | 'session';
  outputFile: (name: string) => string;
  /** A unit was read (after `status.loadState` etc. are known). */
  onRead?: (name: string, status: UnitStatus) => void;
  /** The known states changed. */
  onChange: () => void;
}

export const CONTAINER_UNIT = /^container-([a-z0-9-]+)\.service$/;

function stateOf(activeState: string): ContainerStatus['state'] {
  switch (activeState) {
    case 'active': case 'reloading': return 'running';
    case 'activating': return 'starting';
    case 'deactivating': return 'stopping';
    case 'failed': return 'failed';
    default: return 'stopped';
  }
}

export class ContainerStates {
  private readonly units = new Map<string, UnitStatus>();
  /** Bumped on every change of a unit's known state, so a slower read never overwrites it. */
  private readonly versions = new Map<string, number>();
  private readonly outputs = new Map<string, string[]>();
  private readonly dirty = new Set<string>();
  private refreshTimer: NodeJS.Timeout | undefined;
  private publishTimer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: ContainerStatesOptions) {}

  /** Cancels pending reads and publications. */
  stop(): void {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    if (this.publishTimer) clearTimeout(this.publishTimer);
    this.refreshTimer = undefined;
    this.publishTimer = undefined;
  }

  /** A PropertiesChanged signal of a tracked container unit. */
  changed(unit: string, changed: Record<string, unknown>): void {
    this.bump(unit);
    const known = this.units.get(unit);
    if (!known) {
      this.markDirty(unit);
      return;
    }
    const next = withChangedProperties(known, changed);
    if (next.activeState === 'failed' && known.activeState !== 'failed') {
      this.markDirty(unit);
      return;
    }
    this.units.set(unit, next);
    if (next.activeState !== 'failed') this.outputs.delete(unit);
    this.publishSoon();
  }

  /** The unit was stopped by us and its failed state reset: it is inactive now. */
  stopped(unit: string, status: UnitStatus): void {
    this.bump(unit);
    this.units.set(unit, { ...status, activeState: 'inactive', subState: 'dead' });
  }

  forget(unit: string): void {
    this.units.delete(unit);
    this.outputs.delete(unit);
  }

  /** Reads `unit` soon (coalesced with other reads). */
  markDirty(unit: string): void {
    this.dirty.add(unit);
    if (this.refreshTimer) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = undefined;
      const units = [...this.dirty];
      this.dirty.clear();
      void this.read(units).then(() => this.publishSoon());
    }, 20);
  }

  /** Reads these units now (all of them, or those not known yet). */
  async read(units: readonly string[], onlyUnknown = false): Promise<void> {
    const manager = this.opts.manager();
    if (!manager) return;
    await Promise.all(units.filter((u) => !onlyUnknown || !this.units.has(u)).map(async (unit) => {
      const version = this.versions.get(unit) ?? 0;
      const status = await manager.unitStatus(unit).catch(() => undefined);
      if (!status) return;
      const name = CONTAINER_UNIT.exec(unit)?.[1] ?? '';
      const output = status.activeState === 'failed' ? await this.lastOutput(name).catch(() => []) : undefined;
      if ((this.versions.get(unit) ?? 0) !== version) {
        // A signal arrived meanwhile: what was read may be older than what it said.
        this.markDirty(unit);
        return;
      }
      this.units.set(unit, status);
      if (output !== undefined) this.outputs.set(unit, output);
      else this.outputs.delete(unit);
      this.opts.onRead?.(name, status);
    }));
  }

  /** The last lines container `name` printed: its output file, or its unit's journal. */
  lastOutput(name: string): Promise<string[]> {
    return lastOutput(this.opts.output === 'file' ? { file: this.opts.outputFile(name) } : { unit: containerUnitName(name), bus: this.opts.bus });
  }

  /** The status fields of `unit` as known. */
  partOf(unit: string): UnitPart {
    const u = this.units.get(unit);
    const lastOutput = this.outputs.get(unit);
    const name = CONTAINER_UNIT.exec(unit)?.[1] ?? '';
    return {
      ...(this.opts.output === 'file' && { outputFile: this.opts.outputFile(name) }),
      state: stateOf(u?.activeState ?? 'inactive'),
      activeState: u?.activeState ?? 'inactive',
      subState: u?.subState ?? 'dead',
      mainPid: u?.mainPid ?? 0,
      nRestarts: u?.nRestarts ?? 0,
      ...(u?.activeSince !== undefined && { activeSince: u.activeSince }),
      ...(u && u.activeState !== 'active' && u.execMainStatus !== 0 && { exitStatus: u.execMainStatus }),
      ...(lastOutput !== undefined && lastOutput.length > 0 && { lastOutput }),
    };
  }

  private bump(unit: string): void {
    this.versions.set(unit, (this.versions.get(unit) ?? 0) + 1);
  }

  private publishSoon(): void {
    if (this.publishTimer) return;
    this.publishTimer = setTimeout(() => {
      this.publishTimer = undefined;
      this.opts.onChange();
    }, 20);
  }
}
