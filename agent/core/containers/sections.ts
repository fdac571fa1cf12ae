/**
 * The pieces every container unit is made of: sections, the agent's header keys, output
 * and [Install] lines, the comment on top, and the service lines of a RootDirectory=
 * sandbox (isolation fly and the apps of a pod). Pure: no I/O.
 */
import type { Limits } from './limits.js';
import { overlayOptions } from './nspawn.js';
import { commandLine, escapeSpecifiers, quoteWord } from './quote.js';
import type { ContainerHost, ResolvedContainer } from './spec.js';

export const SOURCE_PREFIX = 'container:';
export const SPEC_KEY = 'X-HostAgent-Spec';
export const IMAGE_KEY = 'X-HostAgent-Image';

export type Lines = Array<[string, string]>;

export function section(title: string, lines: Lines): string {
  return `[${title}]\n${lines.map(([k, v]) => `${k}=${v}\n`).join('')}`;
}

/** `source`: the container the unit belongs to (a pod's app units belong to the pod). */
export function header(c: ResolvedContainer, hash: string, what: string, source = c.name): Lines {
  return [
    ['Description', escapeSpecifiers(`${what} ${c.name} (${c.imageName})`)],
    ['X-HostAgent-Source', `${SOURCE_PREFIX}${source}`],
    [SPEC_KEY, hash],
    [IMAGE_KEY, c.imageId],
  ];
}

export function output(host: ContainerHost): Lines {
  if (host.outputFile === undefined) return [];
  const file = `append:${escapeSpecifiers(host.outputFile)}`;
  return [['StandardOutput', file], ['StandardError', file]];
}

export function install(host: ContainerHost): string {
  return host.wantedBy === undefined ? '' : `\n${section('Install', [['WantedBy', host.wantedBy]])}`;
}

export function comment(name: string): string {
  return `# Written by host-agent for container ${name}. Edits are overwritten: change host-agent.containers instead.\n`;
}

/**
 * What systemd can withhold from a payload that shares the host's PIDs, network, IPC and
 * user IDs (docs/containers.md says what remains shared). The capability bounding set
 * follows in limits.flyProperties.
 */
export const FLY_HARDENING: Lines = [
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


/**
 * The [Service] lines of a payload in a RootDirectory= sandbox on `host.layer.merged`
 * (mounted by its rootfs unit). `namespaces`: the lines that put it in namespaces it shares
 * (a pod's apps); `privateTmp`: a /tmp of its own apart from its root's.
 */
export function sandboxService(c: ResolvedContainer, host: ContainerHost, limits: Limits, opts: { restart: string; privateTmp: boolean; namespaces: Lines }): Lines {
  const identity: Lines = [
    ...(['0', 'root'].includes(c.user) ? [] : [['User', c.user] as [string, string]]),
    ...(['0', 'root'].includes(c.group) ? [] : [['Group', c.group] as [string, string]]),
    ...(c.workingDirectory === undefined ? [] : [['WorkingDirectory', escapeSpecifiers(c.workingDirectory)] as [string, string]]),
  ];
  return [
    ['Type', 'exec'],
    ['Slice', 'machine.slice'],
    ['Restart', opts.restart],
    ['RootDirectory', escapeSpecifiers(host.layer.merged)],
    ['MountAPIVFS', 'yes'],
    ...(opts.privateTmp ? [['PrivateTmp', 'yes'] as [string, string]] : []),
    ['PrivateDevices', 'yes'],
    ...opts.namespaces,
    ...FLY_HARDENING,
    ...identity,
    ...c.environment.map(([k, v]): [string, string] => ['Environment', quoteWord(`${k}=${v}`)]),
    ...c.volumes.map((v): [string, string] => [v.readOnly ? 'BindReadOnlyPaths' : 'BindPaths', quoteWord(`${v.host}:${v.path}`)]),
    ...limits.properties,
    ...limits.flyProperties,
    ...output(host),
    ['ExecStart', commandLine(c.exec)],
  ];
}

/** The [Service] lines of a oneshot unit that keeps the overlay of `host` mounted on `host.layer.merged` while it is active. */
export function rootfsService(host: ContainerHost): Lines {
  return [
    ['Type', 'oneshot'],
    ['RemainAfterExit', 'yes'],
    ['Slice', 'machine.slice'],
    ['ExecStart', commandLine(['mount', '-t', 'overlay', 'overlay', '-o', overlayOptions(host), host.layer.merged])],
    ['ExecStop', commandLine(['umount', host.layer.merged])],
  ];
}
