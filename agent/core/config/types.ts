/**
 * The validated, merged configuration of a host: what the rest of the agent reads. Built only
 * from a configuration without errors; defaults are filled in (see docs/config.md), so a field
 * left out of every file still has its documented value here. Pure: types only.
 */
import type { ImageReference } from '../image/match.js';
import type { RebootStrategy } from '../schedule/strategy.js';
import type { Window } from '../schedule/window.js';
import type { ISOLATIONS, PROTOCOLS, RESTART_POLICIES } from './checks.js';
import type { UNIT_COMMANDS } from './coreos-schema.js';
import type { ReportEntry } from './report.js';
import type { UpdateProtocol } from '../update/omaha.js';

/** Where a named item was (last) defined, for messages about it. */
export interface Origin {
  file?: string;
  line: number;
}

export type UnitCommand = (typeof UNIT_COMMANDS)[number];
export type RestartPolicy = (typeof RESTART_POLICIES)[number];
export type Isolation = (typeof ISOLATIONS)[number];
export type Protocol = (typeof PROTOCOLS)[number];

export interface DropIn {
  /** File name, ending in `.conf`. */
  name: string;
  content: string;
}

export interface Unit {
  /** Unit file name, e.g. `web.service`. */
  name: string;
  /** Unit file text; absent: the agent does not write the unit file (only drop-ins, mask…). */
  content?: string;
  /** Write under /run (lost at reboot) instead of /etc. Default false. */
  runtime: boolean;
  enable: boolean;
  mask: boolean;
  /** Job to run after writing: absent means none. */
  command?: UnitCommand;
  dropIns: DropIn[];
  origin: Origin;
}

export interface WriteFile {
  /** Absolute and normalised. */
  path: string;
  /** Decoded content. */
  content: Uint8Array;
  /** `user`, `user:group` or numeric ids; absent: root. */
  owner?: string;
  /** Mode bits. Default 0o644. */
  permissions: number;
  origin: Origin;
}

export interface User {
  name: string;
  passwd?: string;
  sshAuthorizedKeys: string[];
  gecos?: string;
  homedir?: string;
  noCreateHome: boolean;
  primaryGroup?: string;
  groups: string[];
  noUserGroup: boolean;
  system: boolean;
  noLogInit: boolean;
  shell?: string;
  origin: Origin;
}

export interface UpdatePolicy {
  /** Absent: the update engine's default. */
  rebootStrategy?: RebootStrategy;
  group?: string;
  server?: string;
  /** host-agent.update.protocol; absent: chosen from the server URL (agent/core/update/omaha.ts). */
  protocol?: UpdateProtocol;
  /** host-agent.update.app-id: the Omaha application id; absent: CoreOS/Flatcar's. */
  appId?: string;
}

/** A maintenance window as written and as parsed. */
export interface ConfiguredWindow {
  start: string;
  length: string;
  window: Window;
}

export interface LocksmithConfig {
  endpoint?: string;
  group?: string;
  window?: ConfiguredWindow;
  etcdCaFile?: string;
  etcdCertFile?: string;
  etcdKeyFile?: string;
  etcdUsername?: string;
  etcdPassword?: string;
}

export interface OemConfig {
  id?: string;
  name?: string;
  versionId?: string;
  homeUrl?: string;
  bugReportUrl?: string;
}

export interface Volume {
  /** Absolute path on the host. */
  host: string;
  /** Absolute path in the container. */
  path: string;
  readOnly: boolean;
}

export interface Port {
  host: number;
  /** Default: the host port. */
  container: number;
  protocol: Protocol;
}

/** One app of a pod (`apps:` of a container); its name is an AC Name, unique in the pod. */
export type App = Pick<Container, 'name' | 'image' | 'imageText' | 'exec' | 'environment' | 'volumes' | 'user' | 'group' | 'workingDirectory' | 'origin'>;

export interface Container {
  /** AC Name; also names the unit. */
  name: string;
  /**
   * The image as parsed: an appc name and labels (no defaults added: `version` is absent
   * when not written), or an OCI reference (`docker://…`, tag `latest` when none is written).
   * A pod's is its first app's.
   */
  image: ImageReference;
  /** The image as written. */
  imageText: string;
  /** Command line; absent: the image's own `exec`. */
  exec?: string[];
  environment: Record<string, string>;
  volumes: Volume[];
  /** Memory limit in bytes. */
  memoryBytes?: number;
  /** CPU quota, percent of one CPU. */
  cpuPercent?: number;
  /** Default `no`. */
  restart: RestartPolicy;
  /** Default `nspawn`. */
  isolation: Isolation;
  /** Follow newer versions of the image. Default false. */
  autoUpdate: boolean;
  user?: string;
  group?: string;
  workingDirectory?: string;
  ports: Port[];
  /** systemd-nspawn --private-users= value (`yes`, `no`, `pick`, `identity`, `UID[:COUNT]`). */
  privateUsers?: string;
  /** `default`, `host`, `none` or a declared network's name; absent: `default` (fly: `host`). */
  network?: string;
  /** Nameservers for the container's resolv.conf; empty: the host's. */
  dns: string[];
  /**
   * A pod: these apps share its network (and ports, DNS) and one IPC namespace. Then the
   * container itself has no exec, environment, volumes, user, group or working directory.
   */
  apps?: App[];
  origin: Origin;
}

/** A network of `host-agent.networks`: a CNI conflist containers choose with `network:`. */
export interface DeclaredNetwork {
  name: string;
  /** The conflist as parsed (checked by the schema). */
  conflist: Record<string, unknown>;
  origin: Origin;
}

/**
 * A container whose declaration has errors: it alone is rejected, the rest of the
 * configuration applies, and whatever the host runs under its name is left as it is.
 */
export interface RejectedContainer {
  name: string;
  /** Its error entries, with file and line. */
  errors: ReportEntry[];
}

export interface ImagePolicy {
  /** Cron expression: when to look for newer images. Absent: never on a schedule. */
  check?: string;
  /** When containers may restart for a newer image. Absent: at any time. */
  window?: ConfiguredWindow;
}

export interface TrustEntry {
  /** AC Identifier prefix of the image names this key may sign. */
  prefix: string;
  /** ASCII-armored OpenPGP public key. */
  key: string;
  origin: Origin;
}

export interface HostConfig {
  hostname?: string;
  /** Keys for the `core` user. */
  sshAuthorizedKeys: string[];
  users: User[];
  writeFiles: WriteFile[];
  manageEtcHosts?: 'localhost';
  units: Unit[];
  update: UpdatePolicy;
  locksmith: LocksmithConfig;
  /** flannel options as written, by their cloud-config key (`etcd_endpoints`…). */
  flannel: Record<string, string>;
  oem: OemConfig;
  /** The containers declared without errors. */
  containers: Container[];
  /** Declared with errors (never also in `containers`). */
  rejectedContainers: RejectedContainer[];
  images: ImagePolicy;
  trust: TrustEntry[];
  networks: DeclaredNetwork[];
}
