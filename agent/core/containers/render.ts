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
import { networkCommands, networkStart, startCommand } from './network.js';
import { renderPod } from './pod.js';
import { legacyCgroupWrites, nspawnCommand } from './nspawn.js';
import { commandLine } from './quote.js';
import { comment, header, install, output, rootfsService, sandboxService, section, type Lines } from './sections.js';
import { resolve, type ContainerHost, type RenderInput, type ResolvedContainer } from './spec.js';
import { assertRenderable } from './validate.js';

import { SOURCE_PREFIX, SPEC_KEY } from './sections.js';
export { IMAGE_KEY, SOURCE_PREFIX, SPEC_KEY } from './sections.js';

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
  /** A pod's apps with their image's layer IDs (bottom first): each gets a writable layer of its own. */
  apps?: Array<{ name: string; layers: string[] }>;
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

function nspawnUnit(c: ResolvedContainer, host: ContainerHost, limits: Limits, hash: string): string {
  const net = networkCommands(c, host);
  const cleanup: Lines = [
    ...(net ? [['ExecStopPost', `-${commandLine(net.post)}`] as [string, string]] : []),
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
    ...networkStart(net, true),
    ['ExecStart', commandLine(startCommand(net, nspawnCommand(c, host, limits)))],
    ...cleanup,
  ];
  return `${comment(c.name)}${section('Unit', header(c, hash, 'Container'))}\n${section('Service', service)}${install(host)}`;
}

function flyUnit(c: ResolvedContainer, host: ContainerHost, limits: Limits, hash: string): string {
  const rootfs = rootfsUnitName(c.name);
  const unit: Lines = [...header(c, hash, 'Container'), ['BindsTo', rootfs], ['After', rootfs]];
  const service = sandboxService(c, host, limits, { restart: c.restart, privateTmp: true, namespaces: [] });
  return `${comment(c.name)}${section('Unit', unit)}\n${section('Service', service)}${install(host)}`;
}

function flyRootfsUnit(c: ResolvedContainer, host: ContainerHost, hash: string): string {
  const unit: Lines = [...header(c, hash, 'Root file system of container'), ['StopWhenUnneeded', 'yes']];
  return `${comment(c.name)}${section('Unit', unit)}\n${section('Service', rootfsService(host))}`;
}

/**
 * The unit files of a container. Throws ContainerSpecError (code container.invalid-spec)
 * listing every problem of the spec or of its host paths.
 */
export function renderContainer(input: RenderInput, sha256Hex: Sha256Hex): RenderedContainer {
  assertRenderable(input);
  const hash = specHash(input, sha256Hex);
  if (input.spec.apps !== undefined) {
    const pod = renderPod(input.spec, input.host, hash);
    const apps = input.spec.apps.map((a) => ({ name: a.name, layers: a.image.layers }));
    return { unit: containerUnitName(input.spec.name), files: pod.files, hash, warnings: pod.warnings, apps };
  }
  const c = resolve(input.spec);
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
