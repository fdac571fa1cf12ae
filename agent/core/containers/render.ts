/**
 * Container spec → unit file text: `container-<name>.service` in `machine.slice`, running
 * the image under systemd-nspawn (isolation `nspawn`) or in a RootDirectory= sandbox
 * (isolation `fly`, which also gets `container-<name>.rootfs.service` to mount its
 * overlay). Every unit carries `X-HostAgent-Source=container:<name>` (the agent's marker)
 * and `X-HostAgent-Spec=<hash>` (drift detection). Every value is quoted for the line it
 * lands in (./quote.ts). docs/containers.md explains the output line by line.
 * Pure: no I/O.
 */
import { specHash, type Sha256Hex } from './canonical.js';
import { limitsOf, type Limits } from './limits.js';
import { networkCommands } from './network.js';
import { legacyCgroupWrites, nspawnCommand, overlayOptions } from './nspawn.js';
import { commandLine, escapeSpecifiers, quoteWord } from './quote.js';
import { resolve, type ContainerHost, type RenderInput, type ResolvedContainer } from './spec.js';
import { assertRenderable } from './validate.js';

export const SOURCE_PREFIX = 'container:';
export const SPEC_KEY = 'X-HostAgent-Spec';
export const IMAGE_KEY = 'X-HostAgent-Image';

export interface RenderedUnit {
  name: string;
  text: string;
}

export interface RenderedContainer {
  /** The main unit, `container-<name>.service`: the one to start, stop and watch. */
  unit: string;
  /** Every unit file of the container, main unit first. */
  files: RenderedUnit[];
  /** `X-HostAgent-Spec=` value of every file. */
  hash: string;
  /** Settings that could not be applied (image isolators systemd has no property for…). */
  warnings: string[];
}

export function containerUnitName(name: string): string {
  return `container-${name}.service`;
}

export function rootfsUnitName(name: string): string {
  return `container-${name}.rootfs.service`;
}

/** The container a unit file belongs to, from its `X-HostAgent-Source=` origin. */
export function containerOfOrigin(origin: string): string | undefined {
  return origin.startsWith(SOURCE_PREFIX) ? origin.slice(SOURCE_PREFIX.length) : undefined;
}

/** The `X-HostAgent-Spec=` value of a unit file, or undefined. */
export function specHashOf(text: string): string | undefined {
  return new RegExp(`^${SPEC_KEY}=(.*)$`, 'm').exec(text)?.[1]?.trim();
}

type Lines = Array<[string, string]>;

function section(title: string, lines: Lines): string {
  return `[${title}]\n${lines.map(([k, v]) => `${k}=${v}\n`).join('')}`;
}

function header(c: ResolvedContainer, hash: string, what: string): Lines {
  return [
    ['Description', escapeSpecifiers(`${what} ${c.name} (${c.imageName})`)],
    ['X-HostAgent-Source', `${SOURCE_PREFIX}${c.name}`],
    [SPEC_KEY, hash],
    [IMAGE_KEY, c.imageId],
  ];
}

function output(host: ContainerHost): Lines {
  if (host.outputFile === undefined) return [];
  const file = `append:${escapeSpecifiers(host.outputFile)}`;
  return [['StandardOutput', file], ['StandardError', file]];
}

function install(host: ContainerHost): string {
  return host.wantedBy === undefined ? '' : `\n${section('Install', [['WantedBy', host.wantedBy]])}`;
}

function comment(name: string): string {
  return `# Written by host-agent for container ${name}. Edits are overwritten: change host-agent.containers instead.\n`;
}

/**
 * What the manager's environment may hold that the network helper must not inherit: a CA
 * bundle node parses at every start (40 ms of each container start for a helper that
 * never speaks TLS) and node options the helper's command line does not give. nspawn
 * passes none of its environment to the payload, so the unit can drop them for all.
 */
const HELPER_UNSET_ENV = ['NODE_EXTRA_CA_CERTS', 'NODE_OPTIONS'];

function nspawnUnit(c: ResolvedContainer, host: ContainerHost, limits: Limits, hash: string): string {
  const net = networkCommands(c, host);
  const cleanup: Lines = [
    ...(net ? [['ExecStopPost', `-${commandLine(net[1])}`] as [string, string]] : []),
    ...legacyCgroupWrites(c, host, limits).map(([dir]): [string, string] => ['ExecStopPost', `-${commandLine(['rmdir', dir])}`]),
  ];
  const service: Lines = [
    ['Type', 'notify'],
    ['Slice', 'machine.slice'],
    ['Delegate', 'yes'],
    ['KillMode', 'control-group'],
    ['Restart', c.restart],
    ...limits.properties,
    ...output(host),
    ...(net ? [['UnsetEnvironment', HELPER_UNSET_ENV.join(' ')] as [string, string], ['ExecStartPre', commandLine(net[0])] as [string, string]] : []),
    ['ExecStart', commandLine(nspawnCommand(c, host, limits))],
    ...cleanup,
  ];
  return `${comment(c.name)}${section('Unit', header(c, hash, 'Container'))}\n${section('Service', service)}${install(host)}`;
}

/**
 * What systemd can withhold from a payload that shares the host's PIDs, network, IPC and
 * user IDs (docs/containers.md says what remains shared). The capability bounding set
 * follows in limits.flyProperties.
 */
const FLY_HARDENING: Lines = [
  ['NoNewPrivileges', 'yes'],
  ['ProtectSystem', 'full'],
  ['ProtectKernelTunables', 'yes'],
  ['ProtectKernelModules', 'yes'],
  ['ProtectKernelLogs', 'yes'],
  ['ProtectControlGroups', 'yes'],
  ['ProtectClock', 'yes'],
  ['ProtectHostname', 'yes'],
  ['RestrictSUIDSGID', 'yes'],
  ['RestrictNamespaces', 'yes'],
  ['RestrictRealtime', 'yes'],
  ['LockPersonality', 'yes'],
  ['SystemCallArchitectures', 'native'],
];

function flyUnit(c: ResolvedContainer, host: ContainerHost, limits: Limits, hash: string): string {
  const rootfs = rootfsUnitName(c.name);
  const unit: Lines = [...header(c, hash, 'Container'), ['BindsTo', rootfs], ['After', rootfs]];
  const identity: Lines = [
    ...(['0', 'root'].includes(c.user) ? [] : [['User', c.user] as [string, string]]),
    ...(['0', 'root'].includes(c.group) ? [] : [['Group', c.group] as [string, string]]),
    ...(c.workingDirectory === undefined ? [] : [['WorkingDirectory', escapeSpecifiers(c.workingDirectory)] as [string, string]]),
  ];
  const service: Lines = [
    ['Type', 'exec'],
    ['Slice', 'machine.slice'],
    ['Restart', c.restart],
    ['RootDirectory', escapeSpecifiers(host.layer.merged)],
    ['MountAPIVFS', 'yes'],
    ['PrivateTmp', 'yes'],
    ['PrivateDevices', 'yes'],
    ...FLY_HARDENING,
    ...identity,
    ...c.environment.map(([k, v]): [string, string] => ['Environment', quoteWord(`${k}=${v}`)]),
    ...c.volumes.map((v): [string, string] => [v.readOnly ? 'BindReadOnlyPaths' : 'BindPaths', quoteWord(`${v.host}:${v.path}`)]),
    ...limits.properties,
    ...limits.flyProperties,
    ...output(host),
    ['ExecStart', commandLine(c.exec)],
  ];
  return `${comment(c.name)}${section('Unit', unit)}\n${section('Service', service)}${install(host)}`;
}

function flyRootfsUnit(c: ResolvedContainer, host: ContainerHost, hash: string): string {
  const service: Lines = [
    ['Type', 'oneshot'],
    ['RemainAfterExit', 'yes'],
    ['Slice', 'machine.slice'],
    ['ExecStart', commandLine(['mount', '-t', 'overlay', 'overlay', '-o', overlayOptions(host), host.layer.merged])],
    ['ExecStop', commandLine(['umount', host.layer.merged])],
  ];
  const unit: Lines = [...header(c, hash, 'Root file system of container'), ['StopWhenUnneeded', 'yes']];
  return `${comment(c.name)}${section('Unit', unit)}\n${section('Service', service)}`;
}

/**
 * The unit files of a container. Throws ContainerSpecError (code container.invalid-spec)
 * listing every problem of the spec or of its host paths.
 */
export function renderContainer(input: RenderInput, sha256Hex: Sha256Hex): RenderedContainer {
  assertRenderable(input);
  const c = resolve(input.spec);
  const hash = specHash(input, sha256Hex);
  const limits = limitsOf(c);
  const warnings = [...limits.warnings];
  const unit = containerUnitName(c.name);
  if (c.isolation === 'nspawn') {
    return { unit, files: [{ name: unit, text: nspawnUnit(c, input.host, limits, hash) }], hash, warnings };
  }
  if (legacyCgroupWrites(c, input.host, limits).length > 0) {
    warnings.push('isolation fly relies on systemd for memory and cpu limits, which this systemd manager does not enforce here');
  }
  return {
    unit,
    files: [
      { name: unit, text: flyUnit(c, input.host, limits, hash) },
      { name: rootfsUnitName(c.name), text: flyRootfsUnit(c, input.host, hash) },
    ],
    hash,
    warnings,
  };
}
