/**
 * Rebooting the host the polite way: through logind (org.freedesktop.login1), which
 * broadcasts a wall message and lets programs delay or block a shutdown; through systemd's
 * `reboot.target` when logind is not on the bus (containers, minimal hosts, sandboxes).
 *
 * Invariant: an inhibitor (`shutdown`, block or delay) held by another program postpones the
 * reboot, checked before the delay and again right before rebooting; the agent never
 * overrides it, although root could. The delay gives people the wall message's warning.
 */
import { AgentError } from '../../core/errors.js';
import { delay } from '../lock/retry.js';
import type { Logger } from '../log/logger.js';
import type { SystemdManager } from '../systemd/manager.js';
import { blockingInhibitors, describeInhibitors } from './inhibitors.js';
import { isAbsent, Logind } from './logind.js';

export type RebootOutcome =
  /** The reboot was started; this process is about to be stopped. */
  | { kind: 'rebooting'; via: 'logind' | 'reboot.target' }
  /** Not now; `reason` says who holds an inhibitor. Ask again later. */
  | { kind: 'postponed'; reason: string };

/** What the coordinator calls to reboot; tests inject their own (a boot simulator). */
export type RebootFunction = (reason: string, signal?: AbortSignal) => Promise<RebootOutcome>;

export const DEFAULT_REBOOT_DELAY_MS = 5_000;

export interface SystemRebootOptions {
  /** The systemd connection in force (its bus also reaches logind); undefined while not connected. */
  systemd: () => SystemdManager | undefined;
  log: Logger;
  /** Between the wall message and the reboot; default 5 s. */
  delayMs?: number;
  /** Inhibitors of this process do not count; default process.pid. */
  selfPid?: number;
}

/** The RebootFunction of a real host. */
export function systemReboot(options: SystemRebootOptions): RebootFunction {
  const selfPid = options.selfPid ?? process.pid;
  const delayMs = options.delayMs ?? DEFAULT_REBOOT_DELAY_MS;
  const { log } = options;

  return async (reason, signal) => {
    const manager = options.systemd();
    if (!manager) {
      throw new AgentError({
        code: 'systemd.not-connected',
        message: 'cannot reboot: systemd is not connected',
        hint: 'The agent reconnects by itself; see agentctl status',
      });
    }
    const logind = new Logind(manager.bus);
    let present = true;
    /** undefined: go on; a string: postpone for that reason. */
    const inhibited = async (): Promise<string | undefined> => {
      if (!present) return undefined;
      try {
        const blocking = blockingInhibitors(await logind.listInhibitors(), selfPid);
        return blocking.length > 0 ? describeInhibitors(blocking) : undefined;
      } catch (e) {
        if (!isAbsent(e)) throw e;
        present = false;
        return undefined;
      }
    };

    const first = await inhibited();
    if (first) return { kind: 'postponed', reason: first };
    const message = `host-agent: rebooting in ${Math.ceil(delayMs / 1000)} s: ${reason}`;
    if (present) await logind.setWallMessage(message).catch((e: unknown) => log.warn(`logind refused the wall message: ${String(e)}`));
    log.warn(message);
    await delay(delayMs, signal);
    const second = await inhibited();
    if (second) return { kind: 'postponed', reason: second };

    if (present) {
      try {
        await logind.reboot();
        return { kind: 'rebooting', via: 'logind' };
      } catch (e) {
        if (!isAbsent(e)) {
          throw new AgentError({ code: 'systemd.reboot-refused', message: `logind refused the reboot: ${String(e)}`, hint: 'See the journal of systemd-logind', cause: e });
        }
      }
    }
    log.warn('logind is not on the bus: starting reboot.target through systemd');
    await manager.runJob('start', 'reboot.target', 'replace-irreversibly');
    return { kind: 'rebooting', via: 'reboot.target' };
  };
}
