/**
 * The container reconciler's decisions: declared containers (HostConfig.containers) vs
 * what the host has (installed container units with their spec hash and active state, and
 * what the host side made of each declaration: its image is missing, or it rendered to a
 * hash, or it was refused) → typed steps, executed in order by the daemon and planned again
 * until nothing is left.
 *
 * Invariants: a container whose installed hash equals its rendered hash and that is active
 * gets no step (adoption: same MainPID after an agent restart). A bad declaration (rejected
 * by the configuration's checks, refused by the renderer, image not fetchable) is an error
 * for that container only, and its installed unit, if any, is left as it is. A container no
 * longer declared is stopped and its unit files removed; its writable layer is kept.
 * Pure: no I/O.
 */
import { formatEntry } from '../config/report.js';
import type { RejectedContainer } from '../config/types.js';

/** What an installed container unit looks like now. */
export interface InstalledContainerUnit {
  name: string;
  /** `container-<name>.service`. */
  unit: string;
  /** `X-HostAgent-Spec=` of the installed file; undefined when missing. */
  hash: string | undefined;
  /** systemd's ActiveState: active, activating, deactivating, reloading, inactive, failed. */
  activeState: string;
}

export interface PlanError {
  code: string;
  message: string;
  hint?: string;
}

/** What the host side made of one declaration (by name). */
export type PreparedContainer =
  /** The image is not in the store: fetch it (`image`: the reference to fetch; absent: the declared one). */
  | { kind: 'image-missing'; image?: string }
  /** Fetching the image failed, or the host side refused the spec. */
  | { kind: 'refused'; error: PlanError }
  /** Rendered: the unit and the hash it would carry. */
  | { kind: 'rendered'; unit: string; hash: string; imageId: string };

export interface DeclaredContainer {
  name: string;
  /** The image as written in the configuration. */
  image: string;
  /** Why the configuration rejected the declaration (see rejectionError). */
  rejected?: PlanError;
}

/** The error of a container the configuration rejected: its entries, with files and lines. */
export function rejectionError(r: RejectedContainer): PlanError {
  return {
    code: 'container.invalid-declaration',
    message: r.errors.map((e) => formatEntry(e)).join('; '),
    hint: 'Fix these lines of host-agent.containers; until then the container keeps its last good state (its unit, if any, is left as it is)',
  };
}

export interface ContainerObservation {
  installed: readonly InstalledContainerUnit[];
  /** By container name; absent for names the host side did not look at (invalid names). */
  prepared: ReadonlyMap<string, PreparedContainer>;
  /** Containers already started (or restarted) in this reconcile: not started again. */
  started?: ReadonlySet<string>;
}

export type ContainerStep =
  | { kind: 'fetch-image'; container: string; image: string }
  | { kind: 'write-unit'; container: string; hash: string }
  | { kind: 'remove-unit'; container: string; unit: string }
  | { kind: 'daemon-reload' }
  | { kind: 'reset-failed'; container: string; unit: string }
  | { kind: 'stop'; container: string; unit: string }
  | { kind: 'start'; container: string; unit: string };

export interface ContainerPlan {
  steps: ContainerStep[];
  /** Declarations that cannot run, by container name (or `#<index>` for a nameless one). */
  errors: Array<{ container: string; error: PlanError }>;
}

const RUNNING = new Set(['active', 'activating', 'reloading']);

export function isRunningState(activeState: string): boolean {
  return RUNNING.has(activeState);
}

export function describeContainerStep(step: ContainerStep): string {
  switch (step.kind) {
    case 'fetch-image': return `fetch image ${step.image} for container ${step.container}`;
    case 'write-unit': return `write the unit of container ${step.container} (${step.hash.slice(0, 19)})`;
    case 'remove-unit': return `remove the unit files of container ${step.container}`;
    case 'daemon-reload': return 'reload systemd';
    case 'reset-failed': return `reset the failed state of ${step.unit}`;
    case 'stop': return `stop ${step.unit}`;
    case 'start': return `start ${step.unit}`;
  }
}

/**
 * The steps that bring the host from `observed` to `desired`: one declaration per name,
 * each a valid AC Name or rejected (the configuration's checks see to both).
 */
export function planContainers(desired: readonly DeclaredContainer[], observed: ContainerObservation): ContainerPlan {
  const errors: ContainerPlan['errors'] = [];
  const installed = new Map(observed.installed.map((u) => [u.name, u]));
  const started = observed.started ?? new Set<string>();
  const declared = new Set(desired.map((c) => c.name));

  const fetches: ContainerStep[] = [];
  const stops: ContainerStep[] = [];
  const writes: ContainerStep[] = [];
  const resets: ContainerStep[] = [];
  const starts: ContainerStep[] = [];
  for (const c of desired) {
    if (c.rejected) {
      errors.push({ container: c.name, error: c.rejected });
      continue;
    }
    const prepared = observed.prepared.get(c.name);
    if (prepared === undefined) continue;
    if (prepared.kind === 'image-missing') {
      fetches.push({ kind: 'fetch-image', container: c.name, image: prepared.image ?? c.image });
      continue;
    }
    if (prepared.kind === 'refused') {
      errors.push({ container: c.name, error: prepared.error });
      continue;
    }
    const unit = installed.get(c.name);
    const state = unit?.activeState ?? 'inactive';
    if (unit?.hash !== prepared.hash) {
      writes.push({ kind: 'write-unit', container: c.name, hash: prepared.hash });
      if (unit !== undefined && isRunningState(state)) {
        // Stopped before its new unit is written: systemd runs the ExecStopPost of the unit
        // as loaded, so the teardown (its network's above all) is the one that set it up.
        stops.push({ kind: 'stop', container: c.name, unit: unit.unit });
        starts.push({ kind: 'start', container: c.name, unit: prepared.unit });
        continue;
      }
    } else if (isRunningState(state) || started.has(c.name) || state === 'deactivating') {
      continue;
    }
    if (state === 'failed') resets.push({ kind: 'reset-failed', container: c.name, unit: prepared.unit });
    starts.push({ kind: 'start', container: c.name, unit: prepared.unit });
  }

  const removals: ContainerStep[] = [];
  for (const unit of observed.installed) {
    if (declared.has(unit.name)) continue;
    if (unit.activeState !== 'inactive' && unit.activeState !== 'failed') stops.push({ kind: 'stop', container: unit.name, unit: unit.unit });
    if (unit.activeState === 'failed') resets.push({ kind: 'reset-failed', container: unit.name, unit: unit.unit });
    removals.push({ kind: 'remove-unit', container: unit.name, unit: unit.unit });
  }

  const reload: ContainerStep[] = writes.length + removals.length > 0 ? [{ kind: 'daemon-reload' }] : [];
  return { steps: [...fetches, ...stops, ...removals, ...writes, ...reload, ...resets, ...starts], errors };
}

/**
 * The plan in an operator's words (`agentctl config plan`): each container step with what
 * it means for the container and why (created, its unit changed, no longer declared), and
 * each declaration that cannot run, left as it is, as a problem.
 */
export function explainContainerPlan(plan: ContainerPlan, installed: readonly InstalledContainerUnit[]): { steps: string[]; problems: string[] } {
  const before = new Map(installed.map((u) => [u.name, u]));
  const rewritten = new Set(plan.steps.flatMap((s) => (s.kind === 'write-unit' ? [s.container] : [])));
  const steps = plan.steps.map((step): string => {
    const unit = 'container' in step ? before.get(step.container) : undefined;
    switch (step.kind) {
      case 'write-unit':
        return unit
          ? `change container ${step.container}: its declaration or image changed (unit ${unit.hash?.slice(0, 19) ?? 'without a spec'} → ${step.hash.slice(0, 19)})`
          : `create container ${step.container}: write its unit (${step.hash.slice(0, 19)})`;
      case 'remove-unit':
        return `remove container ${step.container}: no valid configuration declares it any more (its unit files go, its writable layer is kept)`;
      case 'stop':
        return rewritten.has(step.container)
          ? `stop container ${step.container} (${step.unit}): its unit changes; it is stopped with the unit that started it, and started again with the new one`
          : `stop container ${step.container} (${step.unit}): it is no longer declared`;
      default:
        return describeContainerStep(step);
    }
  });
  const problems = plan.errors.map((e) => `container ${e.container} is left as it is: ${e.error.message}`);
  return { steps, problems };
}
