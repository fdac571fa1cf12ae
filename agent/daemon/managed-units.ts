/**
 * Follows the units the agent manages (unit files carrying its marker): their states go
 * to the status board at connection, after every daemon reload, and on each
 * PropertiesChanged signal systemd sends for them.
 */
import { describeError } from '../core/errors.js';
import type { SystemdManager } from '../host/systemd/manager.js';
import type { UnitFileStore } from '../host/systemd/unit-files.js';
import type { Logger } from '../host/log/logger.js';
import type { StatusBoard } from './status-board.js';

export class ManagedUnits {
  private detach: Array<() => void> = [];

  constructor(
    private readonly store: UnitFileStore,
    private readonly board: StatusBoard,
    private readonly log: Logger,
  ) {}

  /** Start following units through `manager` (called on every (re)connection). */
  async attach(manager: SystemdManager): Promise<void> {
    this.detachAll();
    this.detach.push(manager.onUnitPropertiesChanged((unit) => {
      if (this.board.hasUnit(unit)) void this.refresh(manager, unit);
    }));
    this.detach.push(manager.onReloaded(() => void this.rescan(manager)));
    await this.rescan(manager);
  }

  async rescan(manager: SystemdManager): Promise<void> {
    try {
      const files = await this.store.listManaged();
      const states = await Promise.all(files.map((f) => manager.unitStatus(f.name)));
      this.board.setUnits(states);
    } catch (e) {
      this.log.warn(`could not read the managed units: ${describeError(e)}`);
    }
  }

  private async refresh(manager: SystemdManager, unit: string): Promise<void> {
    try {
      this.board.updateUnit(await manager.unitStatus(unit));
    } catch (e) {
      this.log.debug(`could not refresh ${unit}: ${describeError(e)}`);
    }
  }

  private detachAll(): void {
    for (const d of this.detach) d();
    this.detach = [];
  }
}
