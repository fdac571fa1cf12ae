/**
 * The D-Bus contract of agentd, declared once and shared by agentd (which exports it),
 * agentctl (which calls it), the D-Bus policy test and docs/dbus-api.md.
 *
 * Bulk data crosses the bus as one JSON document per call (signature `s`), typed below,
 * so both ends share one TypeScript type instead of re-declaring D-Bus structs.
 * `access: 'read'` methods are open to every user; `'root'` methods are refused by the
 * policy in units/org.hostagent.Agent1.conf for anyone but root.
 */

export const AGENT_BUS_NAME = 'org.hostagent.Agent1';
export const AGENT_OBJECT_PATH = '/org/hostagent/Agent1';
export const AGENT_INTERFACE = 'org.hostagent.Agent1';

export type Access = 'read' | 'root';

export interface MethodSpec {
  /** D-Bus signature of the arguments. */
  readonly in: string;
  /** D-Bus signature of the reply. */
  readonly out: string;
  readonly access: Access;
  readonly doc: string;
}

export const AGENT_METHODS = {
  GetStatus: {
    in: '',
    out: 's',
    access: 'read',
    doc: 'The whole agent status as a JSON document (AgentStatus).',
  },
  Reload: {
    in: '',
    out: '',
    access: 'root',
    doc: 'Re-read the configuration and re-scan the units the agent manages.',
  },
} as const satisfies Record<string, MethodSpec>;

export type AgentMethod = keyof typeof AGENT_METHODS;

export const AGENT_SIGNALS = {
  StatusChanged: {
    signature: 's',
    doc: 'Emitted whenever the status changes; carries the new AgentStatus as JSON.',
  },
} as const;

/** D-Bus error names agentd replies with; agentctl turns them into messages and exit codes. */
export const AGENT_ERRORS = {
  failed: 'org.hostagent.Agent1.Error.Failed',
  shuttingDown: 'org.hostagent.Agent1.Error.ShuttingDown',
} as const;

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
  entries: ConfigEntry[];
  loadedAt?: string;
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
  update: { state: string };
}
