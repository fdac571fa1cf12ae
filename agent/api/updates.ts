/**
 * The OS update and reboot documents of the D-Bus contract (GetUpdateStatus,
 * GetRebootStatus, UpdateRollback). JSON over D-Bus (see ./agent1.ts).
 */
import type { UpdateStatus } from '../core/update/status.js';

/**
 * The OS update status (GetUpdateStatus, UpdateStatusChanged, `agentctl update status`):
 * update_engine_client's five fields (lastCheckedTime, progress, currentOperation,
 * newVersion, newSize) plus what the agent knows besides.
 */
export interface UpdateStatusDocument extends UpdateStatus {
  /** The state machine's state, e.g. `IDLE`, `DOWNLOADING` (docs/updates.md). */
  state: string;
  /** False when the host has no A/B disk or no update server is configured. */
  enabled: boolean;
  /** Why updates are disabled, when they are. */
  disabledReason?: string;
  /** The OS version running. */
  currentVersion: string;
  /** The slot the host booted from, once read. */
  bootedSlot?: 'A' | 'B';
  /** coreos.update.server and .group. */
  server?: string;
  group: string;
  /** How the server is spoken to (host-agent.update.protocol, or the server URL's path). */
  protocol?: 'omaha' | 'release';
  /** Omaha mode: the server's last answer to a check, refusals (noupdate, error-…) included. */
  omaha?: OmahaAnswerDocument;
  /** The last failed check or install, until the next success. */
  lastError?: { code: string; message: string; at: string };
  /** The after-boot health marking of the booted slot. */
  boot: { status: 'pending' | 'checking' | 'already-good' | 'marked-good' | 'health-failed' | 'error' | 'disabled'; detail?: string; fellBackFrom?: string };
  /** When the next periodic check runs (before its jitter). */
  nextCheckAt?: string;
}

/** An Omaha server's answer to an update check, as the status shows it. */
export interface OmahaAnswerDocument {
  /** `ok`, `noupdate` or the server's `error-…` (e.g. error-unknownApplication). */
  status: string;
  /** When it answered (ISO 8601). */
  at: string;
  /** The version offered (status ok). */
  version?: string;
  /** The server's PollInterval, in seconds: periodic checks are at least this far apart. */
  pollIntervalSec?: number;
  /** The server's `daystart elapsed_seconds`. */
  elapsedSeconds?: number;
}

/** What UpdateRollback did. */
export interface UpdateRollbackResult {
  /** The slot that boots next. */
  nextBoot: 'A' | 'B';
  /** Its partition label, e.g. USR-A. */
  label: string;
}

/**
 * The reboot coordinator (GetRebootStatus; docs/reboots.md, docs/dbus-api.md):
 * the strategy in force, the maintenance window, the lock and the one thing it does now.
 */
export interface RebootStatus {
  /** coreos.update.reboot-strategy in force: reboot, etcd-lock, fleetlock or off. */
  strategy: string;
  /**
   * What the coordinator does: idle, report-reboot-needed (strategy off), wait-window,
   * acquire-lock, reboot, wait-boot-good, release-lock, rebooting (started),
   * reboot-postponed (an inhibitor), error (see lastError).
   */
  action: string;
  /** One line for people, e.g. "reboot needed (reboot-strategy is off: reboot by hand)". */
  message: string;
  /** An update is staged: only a reboot makes it take effect. */
  rebootNeeded: boolean;
  bootMarkedGood: boolean;
  window?: {
    start: string;
    length: string;
    /** `UTC` or `local`. */
    zone: string;
    open: boolean;
    /** When the open window closes. */
    end?: string;
    /** The next start (after the open one, if one is open). */
    nextStart: string;
  };
  lock?: {
    backend: 'etcd-lock' | 'fleetlock';
    /** This host's holder id (machine id), once read. */
    id?: string;
    group?: string;
    endpoint?: string;
    /** Whether this host holds a slot, as last seen (etcd) or recorded (FleetLock). */
    held: boolean;
    /** The etcd semaphore as last read. */
    semaphore?: { available: number; max: number; holders: string[] };
    /** The last try to take a slot: when, and the refusal or error. */
    lastTry?: { at: string; result: string };
  };
  /** Why the reboot waits although it is due (a shutdown inhibitor). */
  postponed?: string;
  lastError?: { code: string; message: string; at: string };
  updatedAt: string;
}
