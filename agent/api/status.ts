/**
 * The documents of the agent's overall status (GetStatus, StatusChanged, `agentctl
 * status`): systemd's connection, the configuration, the managed units, and what the
 * other services report. JSON over D-Bus (see ./agent1.ts).
 */
import type { ContainerStatus, ImageRollback } from './containers.js';
import type { RebootStatus, UpdateStatusDocument } from './updates.js';

export type BusKind = 'system' | 'session';

export interface UnitStatus {
  name: string;
  description: string;
  loadState: string;
  activeState: string;
  subState: string;
  mainPid: number;
  nRestarts: number;
  /** Exit status of the main process when it exited, else 0. */
  execMainStatus: number;
  /** When the unit last entered its active state (ISO 8601), if it did. */
  activeSince?: string;
}

export interface ConfigEntry {
  file: string;
  line: number;
  level: 'error' | 'warning' | 'info';
  message: string;
}

export interface ConfigStatus {
  path: string;
  /** `ok`: valid and in force; `invalid`: last read had errors (last good config in force). */
  state: 'ok' | 'invalid' | 'missing' | 'unread';
  /** The files with errors (a drop-in as well as the main file), while `invalid`; else absent. */
  invalidFiles?: string[];
  entries: ConfigEntry[];
  loadedAt?: string;
  /** The last time the configuration was applied, and the steps that failed then. */
  lastApply?: ApplyReport;
}

/** What applying would do: `agentctl config plan`. */
export interface ConfigPlan {
  steps: string[];
  /** What cannot be done (unknown owners, missing users); the rest is still planned. */
  problems: string[];
  /** What is left as it is on purpose (creation-time fields of a user that exists). */
  notes: string[];
}

/** What an apply did: each step and, if it failed, why. */
export interface ApplyReport {
  at: string;
  /** The configuration applied: `files` in force, or the last good one after a broken edit. */
  source: 'files' | 'last-good';
  steps: Array<{ step: string; error?: string }>;
  problems: string[];
  /** Why nothing was applied (e.g. `disk.full`: its files could not all be written); then `steps` is empty. */
  error?: { code: string; message: string };
}

export interface SystemdStatus {
  bus: BusKind;
  connected: boolean;
  /** systemd's Version property, e.g. "252.39-1~deb12u1". */
  version?: string;
  /** Why the agent is not connected, while it retries. */
  error?: string;
  nextRetryAt?: string;
}

export interface AgentStatus {
  version: string;
  pid: number;
  startedAt: string;
  uptimeSeconds: number;
  state: 'starting' | 'running' | 'degraded' | 'stopping';
  systemd: SystemdStatus;
  config: ConfigStatus;
  units: UnitStatus[];
  update: UpdateStatusDocument;
  /** The reboot coordinator (GetRebootStatus). */
  reboot?: RebootStatus;
  /** The containers (ListContainers); absent from agents that predate them. */
  containers?: ContainerStatus[];  /** The latest image auto-update rollback, while a container following its image has one. */
  imageRollback?: ImageRollback;
}
