/**
 * The reboot strategy decision (`coreos.update.reboot-strategy`): from what is known now, the
 * one next thing the agent should do about rebooting. Pure: the caller observes the world
 * (clock, update status, lock holders, boot health), acts on the answer and asks again.
 *
 * Ordering rules, the same for both lock backends (etcd-lock, fleetlock):
 * - a slot is taken only inside the window and only while a reboot is needed;
 * - the reboot happens only while holding a slot, inside the window;
 * - a slot held outside the window before the reboot is released;
 * - after the reboot, the slot is released only once the new boot is marked good (also on
 *   start, when the agent finds that it still holds one);
 * - `off` never reboots: status says a reboot is needed.
 */
import { currentWindow, nextWindow } from './periods.js';
import type { TimeZone } from './timezone.js';
import type { Window } from './window.js';

export const REBOOT_STRATEGIES = ['reboot', 'etcd-lock', 'fleetlock', 'off'] as const;
export type RebootStrategy = (typeof REBOOT_STRATEGIES)[number];

/** Whether `strategy` coordinates through a lock backend. */
export function usesLock(strategy: RebootStrategy): boolean {
  return strategy === 'etcd-lock' || strategy === 'fleetlock';
}

export interface RebootSituation {
  strategy: RebootStrategy;
  /** The maintenance window; absent means any time. */
  window?: Window;
  zone: TimeZone;
  now: Date;
  /** An update is staged and only a reboot makes it take effect (UPDATED_NEED_REBOOT). */
  rebootNeeded: boolean;
  /** This host holds a slot of the lock (its id is among the holders). */
  lockHeld: boolean;
  /** The running boot has been marked good (healthy after the update). */
  bootMarkedGood: boolean;
}

export type RebootAction =
  /** Nothing staged, nothing held. */
  | { kind: 'idle' }
  /** Strategy off: never reboot, tell the operator. */
  | { kind: 'report-reboot-needed' }
  /** Outside the window: ask again at `until` (the next window start). */
  | { kind: 'wait-window'; until: Date }
  /** Try to take a slot; give up the try at `deadline` (the window end), if any. */
  | { kind: 'acquire-lock'; deadline?: Date }
  /** Reboot now; the window (if any) closes at `deadline`. */
  | { kind: 'reboot'; deadline?: Date }
  /** Rebooted with the slot held: wait until the new boot is marked good, then ask again. */
  | { kind: 'wait-boot-good' }
  | { kind: 'release-lock'; reason: ReleaseReason };

export type ReleaseReason =
  /** The new boot is good: the reboot is done. */
  | 'rebooted'
  /** The window closed before the reboot. */
  | 'window-closed'
  /** The strategy no longer reboots under this lock (changed to reboot or off). */
  | 'strategy-changed';

export function decideReboot(s: RebootSituation): RebootAction {
  if (s.lockHeld && !s.rebootNeeded) {
    return s.bootMarkedGood ? { kind: 'release-lock', reason: 'rebooted' } : { kind: 'wait-boot-good' };
  }
  if (s.lockHeld && !usesLock(s.strategy)) return { kind: 'release-lock', reason: 'strategy-changed' };
  if (!s.rebootNeeded) return { kind: 'idle' };
  if (s.strategy === 'off') return { kind: 'report-reboot-needed' };

  const open = s.window ? currentWindow(s.window, s.now, s.zone) : undefined;
  if (s.window && !open) {
    if (s.lockHeld) return { kind: 'release-lock', reason: 'window-closed' };
    return { kind: 'wait-window', until: nextWindow(s.window, s.now, s.zone).start };
  }
  const deadline = open ? { deadline: open.end } : {};
  if (s.strategy === 'reboot' || s.lockHeld) return { kind: 'reboot', ...deadline };
  return { kind: 'acquire-lock', ...deadline };
}

/** One line for status text (`agentctl status`). */
export function describeRebootAction(action: RebootAction): string {
  switch (action.kind) {
    case 'idle':
      return 'no reboot needed';
    case 'report-reboot-needed':
      return 'reboot needed (reboot-strategy is off: reboot by hand)';
    case 'wait-window':
      return `reboot needed, waiting for the maintenance window at ${action.until.toISOString()}`;
    case 'acquire-lock':
      return 'reboot needed, waiting for a slot of the reboot lock';
    case 'reboot':
      return 'rebooting to apply the update';
    case 'wait-boot-good':
      return 'rebooted, holding the reboot lock until this boot is marked good';
    case 'release-lock':
      return {
        'rebooted': 'boot marked good, releasing the reboot lock',
        'window-closed': 'maintenance window closed before the reboot, releasing the reboot lock',
        'strategy-changed': 'reboot strategy changed, releasing the reboot lock',
      }[action.reason];
  }
}
