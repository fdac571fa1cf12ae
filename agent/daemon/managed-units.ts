/**
 * Follows the units the agent manages from cloud-config (unit files carrying its marker;
 * container units are the container service's): their states go to the status board. Each unit is read once (at connection, or when it first becomes
 * managed); after that the values its PropertiesChanged signals carry update the known
 * state without reading the unit back. A daemon reload re-lists the managed files and
 * reads only the units new to the list: systemd signals the values of every reloaded unit.
 *
 * Invariant: an older read never overwrites a newer signal. A read takes several calls,
 * so a signal of the unit that arrives while it runs makes it read again; reads of one
 * unit never overlap.
 */
import type { UnitStatus } from '../api/agent1.js';
import { containerOfOrigin } from '../core/containers/render.js';
import { describeError } from '../core/errors.js';
import { withChangedProperties, type SystemdManager } from '../host/systemd/manager.js';
import type { UnitFileStore } from '../host/systemd/unit-files.js';
import type { Logger } from '../host/log/logger.js';
import type { StatusBoard } from './status-board.js';

export class ManagedUnits {
  private detach: Array<() => void> = [];
  private managed = new Set<string>();
  /** Units being read, each with whether a signal overtook the read (it is then repeated). */
  private readonly reading = new Map<string, boolean>();

  constructor(
    private readonly store: UnitFileStore,
    private readonly board: StatusBoard,
    private readonly log: Logger,
  ) {}

  /** Start following units through `manager` (called on every (re)connection). */
  async attach(manager: SystemdManager): Promise<void> {
    this.detachAll();
    this.detach.push(manager.onUnitPropertiesChanged((unit, changed) => this.changed(manager, unit, changed)));
    this.detach.push(manager.onReloaded(() => void this.rescan(manager, false)));
    await this.rescan(manager);
  }

  /**
   * Re-list the managed unit files and read their units: all of them (`all`: at connection,
   * on request), or only those not known yet (after a daemon reload).
   */
  async rescan(manager: SystemdManager, all = true): Promise<void> {
    try {
      // Container units are followed (and shown) by the container service.
      const names = (await this.store.listManaged()).filter((f) => containerOfOrigin(f.origin) === undefined).map((f) => f.name);
      this.managed = new Set(names);
      this.board.setUnits(names.map((n) => this.board.unit(n)).filter((u): u is UnitStatus => u !== undefined));
      await Promise.all(names.filter((n) => all || this.board.unit(n) === undefined).map((n) => this.refresh(manager, n)));
    } catch (e) {
      this.log.warn(`could not read the managed units: ${describeError(e)}`);
    }
  }

  private changed(manager: SystemdManager, unit: string, changed: Record<string, unknown>): void {
    if (!this.managed.has(unit)) return;
    if (this.reading.has(unit)) this.reading.set(unit, true);
    const known = this.board.unit(unit);
    if (known) this.board.updateUnit(withChangedProperties(known, changed));
    else void this.refresh(manager, unit);
  }

  /** Read a unit until no signal overtakes the read, and publish it. */
  private async refresh(manager: SystemdManager, unit: string): Promise<void> {
    if (this.reading.has(unit)) {
      this.reading.set(unit, true);
      return;
    }
    try {
      let status: UnitStatus;
      do {
        this.reading.set(unit, false);
        status = await manager.unitStatus(unit);
      } while (this.reading.get(unit));
      if (this.managed.has(unit)) this.board.updateUnit(status);
    } catch (e) {
      this.log.debug(`could not read ${unit}: ${describeError(e)}`);
    } finally {
      this.reading.delete(unit);
    }
  }

  private detachAll(): void {
    for (const d of this.detach) d();
    this.detach = [];
  }
}
