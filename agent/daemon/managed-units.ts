/**
 * Follows the units the agent manages (unit files carrying its marker): their states go
 * to the status board at connection, after every daemon reload, and on each
 * PropertiesChanged signal systemd sends for them.
 *
 * Invariant: the board shows the result of the latest read started for a unit. Reads
 * overlap (a rescan and signals), so each read carries a per-unit generation and only
 * the newest one is published; signals that arrive during a rescan, for units it may
 * add, are replayed once it knows them.
 */
import type { UnitStatus } from '../api/agent1.js';
import { describeError } from '../core/errors.js';
import type { SystemdManager } from '../host/systemd/manager.js';
import type { UnitFileStore } from '../host/systemd/unit-files.js';
import type { Logger } from '../host/log/logger.js';
import type { StatusBoard } from './status-board.js';

export class ManagedUnits {
  private detach: Array<() => void> = [];
  private managed = new Set<string>();
  private readonly generation = new Map<string, number>();
  /** Units signalled while a rescan runs; undefined when none runs. */
  private signalledDuringScan: Set<string> | undefined;

  constructor(
    private readonly store: UnitFileStore,
    private readonly board: StatusBoard,
    private readonly log: Logger,
  ) {}

  /** Start following units through `manager` (called on every (re)connection). */
  async attach(manager: SystemdManager): Promise<void> {
    this.detachAll();
    this.detach.push(manager.onUnitPropertiesChanged((unit) => {
      this.signalledDuringScan?.add(unit);
      if (this.managed.has(unit)) void this.refresh(manager, unit);
    }));
    this.detach.push(manager.onReloaded(() => void this.rescan(manager)));
    await this.rescan(manager);
  }

  async rescan(manager: SystemdManager): Promise<void> {
    const signalled = new Set<string>();
    this.signalledDuringScan = signalled;
    try {
      const names = (await this.store.listManaged()).map((f) => f.name);
      this.managed = new Set(names);
      const reads = await Promise.all(names.map((name) => this.read(manager, name)));
      const fresh = reads.filter((r): r is UnitStatus => r !== undefined);
      // Units whose newer read is under way keep their entry; that read publishes itself.
      const kept = names.filter((n) => !fresh.some((u) => u.name === n)).map((n) => this.board.unit(n)).filter((u): u is UnitStatus => u !== undefined);
      this.board.setUnits([...fresh, ...kept]);
      for (const unit of signalled) if (this.managed.has(unit)) void this.refresh(manager, unit);
    } catch (e) {
      this.log.warn(`could not read the managed units: ${describeError(e)}`);
    } finally {
      if (this.signalledDuringScan === signalled) this.signalledDuringScan = undefined;
    }
  }

  /** Read a unit's state; undefined when a newer read of it started meanwhile. */
  private async read(manager: SystemdManager, unit: string): Promise<UnitStatus | undefined> {
    const generation = (this.generation.get(unit) ?? 0) + 1;
    this.generation.set(unit, generation);
    const status = await manager.unitStatus(unit);
    return this.generation.get(unit) === generation ? status : undefined;
  }

  private async refresh(manager: SystemdManager, unit: string): Promise<void> {
    try {
      const status = await this.read(manager, unit);
      if (status && this.managed.has(unit)) this.board.updateUnit(status);
    } catch (e) {
      this.log.debug(`could not refresh ${unit}: ${describeError(e)}`);
    }
  }

  private detachAll(): void {
    for (const d of this.detach) d();
    this.detach = [];
  }
}
