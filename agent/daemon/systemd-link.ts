/**
 * Keeps agentd connected to systemd: connects, reports why it cannot (in the status, with
 * the time of the next try), retries with exponential backoff, and reconnects when the
 * bus connection is lost. Whoever needs systemd registers for `connected`.
 */
import type { BusKind } from '../api/agent1.js';
import { backoffDelay, type BackoffPolicy, DEFAULT_BACKOFF } from '../core/backoff.js';
import { describeError } from '../core/errors.js';
import { SystemdManager } from '../host/systemd/manager.js';
import type { Logger } from '../host/log/logger.js';
import type { StatusBoard } from './status-board.js';

export interface SystemdLinkOptions {
  bus: BusKind;
  env: NodeJS.ProcessEnv;
  log: Logger;
  board: StatusBoard;
  backoff?: BackoffPolicy;
  /** Called after each (re)connection, before the status says connected. */
  onConnected: (manager: SystemdManager) => Promise<void>;
}

export class SystemdLink {
  manager: SystemdManager | undefined;
  private attempt = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly opts: SystemdLinkOptions) {}

  /** Try now; on failure keep retrying in the background. Resolves after the first try. */
  async start(): Promise<void> {
    await this.tryConnect();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.manager?.close();
    this.manager = undefined;
  }

  private async tryConnect(): Promise<void> {
    const { bus, env, log, board } = this.opts;
    let manager: SystemdManager | undefined;
    try {
      manager = await SystemdManager.connect(bus, env);
      const version = await manager.version();
      await this.opts.onConnected(manager);
      if (this.stopped) {
        manager.close();
        return;
      }
      this.manager = manager;
      this.attempt = 0;
      board.setSystemd({ bus, connected: true, version });
      log.info(`connected to systemd ${version} on the ${bus} bus`);
      manager.onDisconnect((e) => this.lost(e));
    } catch (e) {
      manager?.close();
      this.retryLater(describeError(e));
    }
  }

  private lost(error: Error): void {
    if (this.stopped) return;
    this.manager = undefined;
    this.retryLater(`lost the connection to systemd: ${error.message}`);
  }

  private retryLater(reason: string): void {
    if (this.stopped) return;
    const delay = backoffDelay(this.attempt++, this.opts.backoff ?? DEFAULT_BACKOFF);
    const nextRetryAt = new Date(Date.now() + delay).toISOString();
    this.opts.board.setSystemd({ bus: this.opts.bus, connected: false, error: reason, nextRetryAt });
    this.opts.log.warn(`systemd not reachable, retrying in ${delay} ms: ${reason}`);
    this.timer = setTimeout(() => void this.tryConnect(), delay);
  }
}
