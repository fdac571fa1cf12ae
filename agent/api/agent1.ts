/**
 * The D-Bus contract of agentd, declared once and shared by agentd (which exports it),
 * agentctl (which calls it), the D-Bus policy test and docs/dbus-api.md.
 *
 * Bulk data crosses the bus as one JSON document per call (signature `s`), typed below,
 * so both ends share one TypeScript type instead of re-declaring D-Bus structs.
 * `access: 'read'` methods are open to every user; `'root'` methods are refused by the
 * policy in units/org.hostagent.Agent1.conf for anyone but root.
 */

import type { UpdateStatus } from '../core/update/status.js';

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
    doc: 'Re-read the configuration, apply it if it is valid, and re-scan the units the agent manages.',
  },
  PlanConfig: {
    in: '',
    out: 's',
    access: 'read',
    doc: 'What applying the configuration in force would do now, as a ConfigPlan JSON document.',
  },
  ApplyConfig: {
    in: '',
    out: 's',
    access: 'root',
    doc: 'Re-read the configuration and apply it now; replies with the ApplyReport JSON document.',
  },
  ListImages: {
    in: '',
    out: 's',
    access: 'read',
    doc: 'Every stored image as a JSON array of ImageSummary.',
  },
  GetImage: {
    in: 's',
    out: 's',
    access: 'read',
    doc: 'One stored image by ID, ID prefix or NAME[:VERSION][,LABEL=VALUE]…, as an ImageDetail JSON document.',
  },
  FetchImage: {
    in: 's',
    out: 's',
    access: 'root',
    doc: 'Fetch, verify and store one image (FetchRequest JSON in, FetchResult JSON out); FetchProgress signals report progress.',
  },
  RemoveImage: {
    in: 's',
    out: 's',
    access: 'root',
    doc: 'Remove one stored image by ID, ID prefix or name; replies with the removed ImageSummary as JSON.',
  },
  GcImages: {
    in: 's',
    out: 's',
    access: 'root',
    doc: 'Remove unreferenced images unused for a grace period (GcRequest JSON in, GcResult JSON out).',
  },
  GetUpdateStatus: {
    in: '',
    out: 's',
    access: 'read',
    doc: 'The OS update status (last checked, progress, current operation, new version, new size…) as an UpdateStatusDocument JSON document.',
  },
  UpdateCheck: {
    in: '',
    out: 's',
    access: 'root',
    doc: 'Ask the update channel for a newer release now; replies with the UpdateStatusDocument after the check.',
  },
  UpdateApply: {
    in: '',
    out: 's',
    access: 'root',
    doc: 'Check and stage the newest release into the inactive slot; replies when done (UpdateStatusDocument), UpdateStatusChanged signals report progress.',
  },
  UpdateReset: {
    in: '',
    out: 's',
    access: 'root',
    doc: 'Forget a staged update: the inactive slot is made unbootable again; replies with the UpdateStatusDocument.',
  },
  UpdateRollback: {
    in: '',
    out: 's',
    access: 'root',
    doc: 'Make the other slot the next boot, if it booted successfully before; replies with an UpdateRollbackResult JSON document.',
  },
  ListContainers: {
    in: '',
    out: 's',
    access: 'read',
    doc: 'Every declared container, every installed container unit and every one-off run, as a JSON array of ContainerStatus.',
  },
  StartContainer: {
    in: 's',
    out: '',
    access: 'root',
    doc: 'Start a declared container by name; replies once its payload runs (the start job is done).',
  },
  StopContainer: {
    in: 's',
    out: '',
    access: 'root',
    doc: 'Stop a container by name; replies once it stopped. It stays stopped until started or the configuration is applied again.',
  },
  RestartContainer: {
    in: 's',
    out: '',
    access: 'root',
    doc: 'Restart a container by name; replies once its payload runs again.',
  },
  RemoveContainer: {
    in: 's',
    out: '',
    access: 'root',
    doc: 'Remove what is left of a container that is no longer declared (its writable layer) or of a finished one-off run; refused for a declared container.',
  },
  RunContainer: {
    in: 's',
    out: 's',
    access: 'root',
    doc: 'Run an image once as a transient unit supervised by systemd (RunRequest JSON in, RunResult JSON out); replies once the payload runs.',
  },
  GetRebootStatus: {
    in: '',
    out: 's',
    access: 'read',
    doc: 'The reboot coordination (strategy, window, lock, what it waits for) as a RebootStatus JSON document.',
  },
  ContainerImageUpdates: {
    in: '',
    out: 's',
    access: 'read',
    doc: 'Image auto-update per container (current, staged, previous and failed images, the last result) as an ImageUpdatesDocument JSON document.',
  },
  UpdateContainers: {
    in: '',
    out: 's',
    access: 'root',
    doc: 'Run an image auto-update pass now (discover, fetch, and in the window restart and roll back); replies with the ImageUpdatesDocument after it.',
  },
} as const satisfies Record<string, MethodSpec>;

export type AgentMethod = keyof typeof AGENT_METHODS;

export const AGENT_SIGNALS = {
  StatusChanged: {
    signature: 's',
    doc: 'Emitted whenever the status changes; carries the new AgentStatus as JSON.',
  },
  FetchProgress: {
    signature: 's',
    doc: 'Progress of a FetchImage call (FetchProgressEvent JSON), at most every 100 ms per phase.',
  },
  UpdateStatusChanged: {
    signature: 's',
    doc: 'The OS update status changed (state at once, progress at most 4 times a second); carries the UpdateStatusDocument as JSON.',
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
  /** The last time the configuration was applied, and the steps that failed then. */
  lastApply?: ApplyReport;
}

/** What applying would do: `agentctl config plan`. */
export interface ConfigPlan {
  steps: string[];
  /** What cannot be done (unknown owners, missing users); the rest is still planned. */
  problems: string[];
}

/** What an apply did: each step and, if it failed, why. */
export interface ApplyReport {
  at: string;
  /** The configuration applied: `files` in force, or the last good one after a broken edit. */
  source: 'files' | 'last-good';
  steps: Array<{ step: string; error?: string }>;
  problems: string[];
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
  containers?: ContainerStatus[];
}

/**
 * One container as `agentctl ps` shows it. `state`: `running`, `starting`, `stopping`,
 * `stopped` (declared, not running), `failed` (the payload failed: see exitStatus and
 * lastOutput), `pending` (its image is being fetched), `error` (the declaration cannot
 * run: see error), `removed` (no longer declared; its writable layer is kept until
 * `agentctl rm`).
 */
export interface ContainerStatus {
  name: string;
  /** `declared` (host-agent.containers) or `run` (a one-off `agentctl run`). */
  kind: 'declared' | 'run';
  /** The image as written, or the image name of an installed unit. */
  image: string;
  imageId?: string;
  /** The image's `version` label, when known. */
  version?: string;
  unit: string;
  state: 'running' | 'starting' | 'stopping' | 'stopped' | 'failed' | 'pending' | 'error' | 'removed';
  activeState: string;
  subState: string;
  mainPid: number;
  /** When the unit last became active (ISO 8601). */
  activeSince?: string;
  nRestarts: number;
  /** Exit status of the payload's last run, when it ended with one. */
  exitStatus?: number;
  /** The last lines of its output, for a failed container. */
  lastOutput?: string[];
  /** The file its output goes to (a manager without journal); absent: the journal. */
  outputFile?: string;
  /** Why the declaration cannot run (code, message, hint). */
  error?: { code: string; message: string; hint?: string };
}

/** `agentctl run IMAGE [--name N] [-- ARGS]`. */
export interface RunRequest {
  /** An image name in the store (or fetchable by name), NAME[:VERSION][,LABEL=VALUE]…. */
  image: string;
  /** AC Name of the run; default `run-<random>`. */
  name?: string;
  /** Command line; default the image's exec. */
  exec?: string[];
}

export interface RunResult {
  name: string;
  unit: string;
  /** The file the payload's output goes to; absent when it goes to the journal. */
  outputFile?: string;
}

export interface ImageLabel {
  name: string;
  value: string;
}

/** A stored image, as `agentctl image list --json` prints it. */
export interface ImageSummary {
  /** `sha512-<hex of the uncompressed tar>`. */
  id: string;
  name: string;
  labels: ImageLabel[];
  /** Bytes of the uncompressed tar. */
  size: number;
  /** ISO time the image was stored. */
  imported: string;
  /** ISO time a container last started from it, or null. */
  lastUsed: string | null;
  /** The path or URL it was fetched from. */
  source: string;
  /** Lowercase fingerprint of the signing key; null when stored unverified. */
  signer: string | null;
}

export interface ImageDetail {
  image: ImageSummary;
  /** The image's directory in the store (`manifest`, `rootfs/`). */
  dir: string;
  /** The image manifest as stored. */
  manifest: string;
}

export type InsecureOptionName = 'http' | 'image';

export interface FetchRequest {
  /** A file path (absolute: the agent resolves it), an http(s) URL, or NAME[:VERSION][,LABEL=VALUE]…. */
  image: string;
  insecureOptions: InsecureOptionName[];
  /** Chosen by the caller; FetchProgress signals of this fetch carry it. */
  requestId: string;
}

export interface FetchResult {
  image: ImageSummary;
  /** Warnings for the person, e.g. an image stored without verification. */
  warnings: string[];
}

export interface FetchProgressEvent {
  requestId: string;
  phase: 'download' | 'verify' | 'extract';
  done: number;
  /** Bytes expected, when known. */
  total: number | null;
}

export interface GcRequest {
  /** Images used (or imported) less than this long ago are kept. */
  graceSeconds: number;
}

export interface GcResult {
  removed: ImageSummary[];
}

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
  /** The last failed check or install, until the next success. */
  lastError?: { code: string; message: string; at: string };
  /** The after-boot health marking of the booted slot. */
  boot: { status: 'pending' | 'checking' | 'already-good' | 'marked-good' | 'health-failed' | 'error' | 'disabled'; detail?: string; fellBackFrom?: string };
  /** When the next periodic check runs (before its jitter). */
  nextCheckAt?: string;
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

/** One image of a container in ImageUpdatesDocument. */
export interface ImageUpdateImage {
  id: string;
  version?: string;
}

/** Image auto-update of one container with `auto-update: true` (docs/containers.md). */
export interface ContainerImageUpdate {
  name: string;
  /** The image as declared. */
  image: string;
  /** The image the container runs: the pinned update, else the declaration's own. */
  current?: ImageUpdateImage;
  /** Fetched and verified, waiting for the window. */
  staged?: ImageUpdateImage;
  /** What ran before current: where a rollback goes. */
  previous?: ImageUpdateImage;
  /** Current was just restarted on and is within its settle time. */
  trial?: boolean;
  /** Images rolled back: never retried. */
  failed: Array<ImageUpdateImage & { reason: string; at: string }>;
  /** The last pass: `up to date`, `staged`, `updated`, `rolled back`, `skipped` (a failed image) or `error`. */
  last?: { result: string; message: string; at: string };
}

/** ContainerImageUpdates / UpdateContainers / `agentctl image updates`. */
export interface ImageUpdatesDocument {
  /** host-agent.images.check (cron), when set. */
  check?: string;
  nextCheckAt?: string;
  window?: { start: string; length: string; open: boolean; nextStart: string };
  /** How long a container must stay active on a new image, in seconds. */
  settleSeconds: number;
  lastPassAt?: string;
  containers: ContainerImageUpdate[];
}
