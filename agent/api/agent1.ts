/**
 * The D-Bus contract of agentd, declared once and shared by agentd (which exports it),
 * agentctl (which calls it), the D-Bus policy test and docs/dbus-api.md.
 *
 * Bulk data crosses the bus as one JSON document per call (signature `s`), typed in
 * ./status.ts, ./containers.ts, ./images.ts and ./updates.ts (re-exported here), so both
 * ends share one TypeScript type instead of re-declaring D-Bus structs.
 * `access: 'read'` methods are open to every user; `'root'` methods are refused by the
 * policy in units/org.hostagent.Agent1.conf for anyone but root. A method's argument is
 * checked at the boundary as its `arg` says (./arguments.ts); what unprivileged readers
 * see is in ./redact.ts.
 */
import type { ArgumentSpec } from './arguments.js';

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
  /** What the string argument is, for methods that take one (`in: 's'`). */
  readonly arg?: ArgumentSpec;
  readonly doc: string;
}

const NAME_OF_CONTAINER: ArgumentSpec = { kind: 'name', what: 'the container name' };
const IMAGE_REFERENCE: ArgumentSpec = { kind: 'name', what: 'the image reference' };

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
    arg: IMAGE_REFERENCE,
    doc: 'One stored image by ID, ID prefix or NAME[:VERSION][,LABEL=VALUE]…, as an ImageDetail JSON document.',
  },
  FetchImage: {
    in: 's',
    out: 's',
    access: 'root',
    arg: { kind: 'json', what: 'FetchRequest', fields: { image: 'string', insecureOptions: 'string[]', requestId: 'string' } },
    doc: 'Fetch, verify and store one image (FetchRequest JSON in, FetchResult JSON out); FetchProgress signals report progress.',
  },
  RemoveImage: {
    in: 's',
    out: 's',
    access: 'root',
    arg: IMAGE_REFERENCE,
    doc: 'Remove one stored image by ID, ID prefix or name; replies with the removed ImageSummary as JSON.',
  },
  GcImages: {
    in: 's',
    out: 's',
    access: 'root',
    arg: { kind: 'json', what: 'GcRequest', fields: { graceSeconds: 'number' } },
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
    arg: NAME_OF_CONTAINER,
    doc: 'Start a declared container by name; replies once its payload runs (the start job is done).',
  },
  StopContainer: {
    in: 's',
    out: '',
    access: 'root',
    arg: NAME_OF_CONTAINER,
    doc: 'Stop a container by name; replies once it stopped. It stays stopped until started or the configuration is applied again.',
  },
  RestartContainer: {
    in: 's',
    out: '',
    access: 'root',
    arg: NAME_OF_CONTAINER,
    doc: 'Restart a container by name; replies once its payload runs again.',
  },
  RemoveContainer: {
    in: 's',
    out: '',
    access: 'root',
    arg: NAME_OF_CONTAINER,
    doc: 'Remove what is left of a container that is no longer declared (its writable layer) or of a finished one-off run; refused for a declared container.',
  },
  RunContainer: {
    in: 's',
    out: 's',
    access: 'root',
    arg: { kind: 'json', what: 'RunRequest', fields: { image: 'string', name: 'string?', exec: 'string[]?' } },
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

export type AgentSignal = keyof typeof AGENT_SIGNALS;

/**
 * D-Bus error names agentd replies with, each with a message for people (never a
 * JavaScript error's text); agentctl turns them into messages and exit codes.
 */
export const AGENT_ERRORS = {
  /** The operation failed (the message says why). */
  failed: 'org.hostagent.Agent1.Error.Failed',
  shuttingDown: 'org.hostagent.Agent1.Error.ShuttingDown',
  /** Wrong signature, not JSON, a field of the wrong type, a string too long. */
  invalidArgs: 'org.hostagent.Agent1.Error.InvalidArgs',
  /** No such container, image or unit. */
  notFound: 'org.hostagent.Agent1.Error.NotFound',
  /** The caller has too many calls in flight; retry once they are answered. */
  busy: 'org.hostagent.Agent1.Error.Busy',
} as const;

const INVALID_ARGS_CODES = new Set([
  'agent.bad-request', 'appc.invalid-app-string', 'container.invalid-name',
  'image.relative-path', 'image.bad-grace', 'image.bad-insecure-option', 'image.ambiguous-id',
]);
const NOT_FOUND_CODES = new Set(['container.not-found', 'image.not-found', 'image.not-in-store', 'systemd.no-such-unit']);

/** The D-Bus error name for an AgentError code. */
export function errorNameOf(code: string): string {
  if (code === 'agent.shutting-down') return AGENT_ERRORS.shuttingDown;
  if (code === 'agent.busy') return AGENT_ERRORS.busy;
  if (INVALID_ARGS_CODES.has(code)) return AGENT_ERRORS.invalidArgs;
  if (NOT_FOUND_CODES.has(code)) return AGENT_ERRORS.notFound;
  return AGENT_ERRORS.failed;
}

export type * from './status.js';
export type * from './containers.js';
export type * from './images.js';
export type * from './updates.js';
