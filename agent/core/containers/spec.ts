/**
 * What a container is, as the renderer takes it: the declared spec (from cloud-config), the
 * image it runs (its format-neutral record), and the host paths the host side computed for it. Also
 * the resolved form: the spec with the image's defaults filled in (exec, environment,
 * user, group, working directory, isolators), which is what the unit is made from.
 * Pure: types and merging only.
 */
import type { Isolator } from '../appc/isolators.js';
import type { ImageRecord } from '../image/record.js';
import type { ContainerNetwork } from '../network/types.js';
import type { NetworkHost } from './network.js';

export type Isolation = 'nspawn' | 'fly';
export type RestartPolicy = 'no' | 'on-success' | 'on-failure' | 'on-abnormal' | 'on-watchdog' | 'on-abort' | 'always';

export interface VolumeSpec {
  /** Absolute path on the host; the host side checks that it exists. */
  host: string;
  /** Absolute path in the container. */
  path: string;
  readOnly: boolean;
}

export interface PortSpec {
  host: number;
  container: number;
  protocol: 'tcp' | 'udp';
}

/**
 * One app of a pod: its own image, command, environment, identity and volumes, in its own
 * root (the image's layers under a writable layer of its own). Its name is unique in the pod;
 * the unit is `container-<pod>.<app>.service`.
 */
export type AppSpec = Pick<ContainerSpec, 'name' | 'image' | 'exec' | 'environment' | 'user' | 'group' | 'workingDirectory' | 'volumes'>;

export interface ContainerSpec {
  /** AC Name; the unit is `container-<name>.service`. */
  name: string;
  /** The stored image it runs. */
  image: ImageRecord;
  /** Command line; absent: the image's exec. */
  exec?: string[];
  /** Added to (and overriding) the image's environment. */
  environment: Record<string, string>;
  user?: string;
  group?: string;
  workingDirectory?: string;
  volumes: VolumeSpec[];
  ports: PortSpec[];
  memoryBytes?: number;
  /** Percent of one CPU (200 = two CPUs). */
  cpuPercent?: number;
  restart: RestartPolicy;
  isolation: Isolation;
  /**
   * systemd-nspawn --private-users= value. Absent, `true`, `yes`: `pick` (the default: a
   * user namespace with a range of its own). `false`, `no`: none. Also `identity`, `UID[:COUNT]`.
   */
  privateUsers?: string;
  /** Absent: the host's network. The host side resolves `default` and declared networks to their conflist. */
  network?: ContainerNetwork;
  /**
   * A pod (./pod.ts): these apps share the container's network and one IPC namespace; the
   * container's own image, exec, environment, identity and volumes are then its first app's.
   */
  apps?: AppSpec[];
}

/** Host paths of one app of a pod. */
export interface AppHost {
  imageLayers: string[];
  layer: { upper: string; work: string; merged: string };
}

/** Host paths and facts for one container, computed by agent/host/containers. */
export interface ContainerHost {
  /**
   * The image's shared, read-only layer directories, bottom first: an appc image's
   * `<state>/images/<id>/rootfs`, an OCI image's `<state>/layers/<layerId>/diff`…
   */
  imageLayers: string[];
  /** The container's own writable layer: `<state>/containers/<name>/{upper,work,merged}`. */
  layer: { upper: string; work: string; merged: string };
  /** Whether overlayfs takes `metacopy=on` (then a chown copies up metadata only). */
  metacopy: boolean;
  /**
   * cgroup v1 directories under which the unit places the payload itself, for limits the
   * systemd manager cannot enforce (a user manager on a hybrid cgroup host). Each is a
   * parent: the unit uses `<dir>/container-<name>`.
   */
  legacyCgroups?: { memory?: string; cpu?: string };
  /** File for the payload's output; absent: the journal. */
  outputFile?: string;
  /** `[Install] WantedBy=` target; absent: no [Install] section. */
  wantedBy?: string;
  /** Where container networks live and how to run the network helper; needed for a CNI network. */
  network?: NetworkHost;
  /**
   * A pod's apps, in the spec's order; the FIFO through which a failing app ends the pod;
   * the file its IPC namespace is bound on while it runs.
   */
  pod?: { apps: AppHost[]; exitFifo: string; ipcNamespace: string };
}

export interface RenderInput {
  spec: ContainerSpec;
  host: ContainerHost;
}

/** The spec with the image's defaults applied. */
export interface ResolvedContainer {
  name: string;
  imageId: string;
  imageName: string;
  exec: string[];
  /** Image environment, then the spec's; a later name replaces an earlier one in place. */
  environment: Array<[string, string]>;
  user: string;
  group: string;
  workingDirectory?: string;
  volumes: VolumeSpec[];
  ports: PortSpec[];
  memoryBytes?: number;
  cpuPercent?: number;
  isolators: Isolator[];
  restart: RestartPolicy;
  isolation: Isolation;
  /** nspawn --private-users= value, or undefined for none. */
  privateUsers?: string;
  network: ContainerNetwork;
}

/** Normalises the privateUsers setting: undefined means no user namespace. */
export function resolvePrivateUsers(value: string | undefined, isolation: Isolation): string | undefined {
  if (value === undefined) return isolation === 'nspawn' ? 'pick' : undefined;
  if (value === 'no' || value === 'false') return undefined;
  if (value === 'yes' || value === 'true') return 'pick';
  return value;
}

export function resolve(spec: ContainerSpec): ResolvedContainer {
  const run = spec.image.run;
  const env = new Map<string, string>();
  for (const [k, v] of run?.environment ?? []) env.set(k, v);
  for (const [k, v] of Object.entries(spec.environment)) env.set(k, v);
  const workingDirectory = spec.workingDirectory ?? (run?.workingDirectory || undefined);
  return {
    name: spec.name,
    imageId: spec.image.id,
    imageName: spec.image.name,
    exec: spec.exec ?? run?.exec ?? [],
    environment: [...env],
    user: spec.user ?? run?.user ?? '0',
    group: spec.group ?? run?.group ?? '0',
    ...(workingDirectory !== undefined && { workingDirectory }),
    volumes: spec.volumes,
    ports: spec.ports,
    ...(spec.memoryBytes !== undefined && { memoryBytes: spec.memoryBytes }),
    ...(spec.cpuPercent !== undefined && { cpuPercent: spec.cpuPercent }),
    isolators: run?.isolators ?? [],
    restart: spec.restart,
    isolation: spec.isolation,
    ...withPrivateUsers(resolvePrivateUsers(spec.privateUsers, spec.isolation)),
    network: spec.network ?? { mode: 'host' },
  };
}

/**
 * One app of a pod as a container of its own, for resolving and checking: isolation fly
 * (a RootDirectory= service), no ports and no network of its own (the pod has them).
 */
export function appContainer(pod: ContainerSpec, app: AppSpec): ContainerSpec {
  return {
    name: app.name,
    image: app.image,
    ...(app.exec !== undefined && { exec: app.exec }),
    environment: app.environment,
    ...(app.user !== undefined && { user: app.user }),
    ...(app.group !== undefined && { group: app.group }),
    ...(app.workingDirectory !== undefined && { workingDirectory: app.workingDirectory }),
    volumes: app.volumes,
    ports: [],
    ...(pod.memoryBytes !== undefined && { memoryBytes: pod.memoryBytes }),
    ...(pod.cpuPercent !== undefined && { cpuPercent: pod.cpuPercent }),
    restart: 'no',
    isolation: 'fly',
  };
}

function withPrivateUsers(value: string | undefined): { privateUsers?: string } {
  return value === undefined ? {} : { privateUsers: value };
}
