/**
 * The container documents of the D-Bus contract: a container as `agentctl ps` shows it,
 * one-off runs, and image auto-update. JSON over D-Bus (see ./agent1.ts).
 */

/**
 * One container as `agentctl ps` shows it. `state`: `running`, `starting`, `stopping`,
 * `stopped` (declared, not running), `failed` (the payload failed: see exitStatus and
 * lastOutput), `pending` (its image is being fetched), `error` (the declaration cannot
 * run: see error; a rejected edit of a container whose last good unit still runs shows
 * that unit's state, with the error), `removed` (no longer declared; its writable layer is kept until
 * `agentctl rm`).
 */
export interface ContainerStatus {
  name: string;
  /** `declared` (host-agent.containers) or `run` (a one-off `agentctl run`). */
  kind: 'declared' | 'run';
  /** The image as written, or the image name of an installed unit; empty for a pod (see `apps`). */
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
  /** Fields withheld from a caller who is not privileged (e.g. `lastOutput`): see ./redact.ts. */
  hidden?: string[];
  /** Its network (declared containers): `default`, `host`, `none` or a declared network. */
  network?: ContainerNetworkStatus;
  /** A pod's apps, in declared order (the pod's own state is the container's). */
  apps?: AppStatus[];
}

/** One app of a pod: its unit `container-<pod>.<app>.service`. */
export interface AppStatus {
  name: string;
  /** The image as written. */
  image: string;
  imageId?: string;
  version?: string;
  unit: string;
  state: ContainerStatus['state'];
  activeState: string;
  mainPid: number;
  /** Exit status of its last run, when it ended with one. */
  exitStatus?: number;
}

export interface ContainerNetworkStatus {
  name: string;
  /** The container's address on it, while it runs on a network of its own. */
  address?: string;
  /** Forwarded ports, `HOST:CONTAINER/PROTOCOL`. */
  ports: string[];
}

/** `agentctl run IMAGE [--name N] [-- ARGS]`. */
export interface RunRequest {
  /** An image name in the store (or fetchable by name), NAME[:VERSION][,LABEL=VALUE]…. */
  image: string;
  /** AC Name of the run; default `run-<random>`. */
  name?: string;
  /** Command line; default the image's exec. */
  exec?: string[];
  /** `default`, `host`, `none` or a network of host-agent.networks; absent: the host's network. */
  network?: string;
  /** Host ports forwarded to the run (on a network of its own), as a declaration's `ports:`. */
  ports?: Array<{ host: number; container: number; protocol: 'tcp' | 'udp' }>;
}

export interface RunResult {
  name: string;
  unit: string;
  /** The file the payload's output goes to; absent when it goes to the journal. */
  outputFile?: string;
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
  /**
   * The last pass: `up to date`, `staged`, `updated`, `rolled back`, `skipped` (a failed
   * image) or `error`; a rollback has the container's last output lines on the image rolled
   * back from (at most 10 lines, 4 KiB), withheld from unprivileged readers.
   */
  last?: { result: string; message: string; at: string; output?: string[] };
  /** Fields withheld from a caller who is not privileged (`last.output`): see ./redact.ts. */
  hidden?: string[];
}

/** The latest image rollback of any container with `auto-update: true` (AgentStatus.imageRollback). */
export interface ImageRollback {
  container: string;
  /** What was rolled back, to what, and why (the exit status). */
  message: string;
  at: string;
  /** The container's last output lines on the image rolled back from; withheld from unprivileged readers. */
  output?: string[];
  /** Fields withheld from a caller who is not privileged (`output`): see ./redact.ts. */
  hidden?: string[];
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
