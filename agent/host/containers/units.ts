/**
 * The host side of container units: turns a declared container into its unit files
 * (host checks, host paths, pure rendering), writes them atomically with the agent's
 * marker, lists the ones installed with their spec hash, and removes them. It neither
 * reloads nor starts anything: the reconciler does that through SystemdManager.
 */
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { AgentError } from '../../core/errors.js';
import { createHash } from 'node:crypto';
import { containerOfOrigin, containerUnitName, IMAGE_KEY, renderContainer, specHashOf, type RenderedContainer } from '../../core/containers/render.js';
import { appContainer, type ContainerHost, type ContainerSpec } from '../../core/containers/spec.js';
import { ContainerSpecError, specProblems, type SpecProblem } from '../../core/containers/validate.js';
import type { UnitFileStore } from '../systemd/unit-files.js';
import { defaultNetwork, type NetworkSettings } from '../network/default-network.js';
import { CniRunner } from '../network/cni.js';
import { CONTAINER_IFNAME, resultAddresses } from '../../core/network/conflist.js';
import type { HostFacts } from './host-facts.js';
import { withResolvedExec } from './resolve-exec.js';
import { prepareLayer, removeLayer } from './layer.js';
import { appPaths, containerPaths, podFiles, type ContainerPaths } from './paths.js';

const sha256Hex = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

export interface ContainerUnitsOptions {
  stateDir: string;
  unitFiles: UnitFileStore;
  /** Where image layers are: the image store's `layerDir` (../images/store.ts). */
  images: { layerDir(layerId: string): string };
  facts: HostFacts;
  /** `file`: payload output to `<state>/containers/<name>/output.log` (a manager without journal). */
  output: 'journal' | 'file';
  /** `[Install] WantedBy=` of the units; absent: none. */
  wantedBy?: string;
  /** Container networks; absent: containers on a network other than host or none are refused. */
  network?: NetworkSettings;
}

export interface InstalledContainer {
  name: string;
  /** `container-<name>.service`. */
  unit: string;
  /** `X-HostAgent-Spec=` of the main unit; undefined when missing. */
  hash: string | undefined;
  /** `X-HostAgent-Image=` of the main unit: the image ID it runs; undefined when missing. */
  imageId: string | undefined;
  /** Every unit file of the container (fly: also its rootfs unit; a pod: its apps' units). */
  files: string[];
  /** The `X-HostAgent-Image=` of every file: a pod's are its apps' images. */
  imageIds: string[];
}

async function volumeProblems(spec: ContainerSpec): Promise<SpecProblem[]> {
  const problems: SpecProblem[] = [];
  const volumes = spec.apps === undefined ? spec.volumes.map((v, i) => ({ v, field: `volumes[${i}]` }))
    : spec.apps.flatMap((a, j) => a.volumes.map((v, i) => ({ v, field: `apps[${j}].volumes[${i}]` })));
  for (const { v, field } of volumes) {
    if (!v.host.startsWith('/')) continue; // reported by specProblems
    try {
      await stat(v.host);
    } catch {
      problems.push({ field: `${field}.host`, message: `${v.host} does not exist on this host; create it first` });
    }
  }
  return problems;
}

const GETENT = ['usr/bin/getent', 'bin/getent', 'usr/sbin/getent', 'sbin/getent'];

/**
 * nspawn resolves a non-root --user= by running getent inside the image (numeric ids too).
 * Looked for in every layer: an upper layer's whiteout could hide it, which the container
 * then reports when it starts.
 */
async function userProblems(spec: ContainerSpec, layers: readonly string[]): Promise<SpecProblem[]> {
  const user = spec.user ?? spec.image.run?.user ?? '0';
  if (spec.isolation !== 'nspawn' || spec.apps !== undefined || user === '0' || user === 'root') return [];
  for (const path of layers.flatMap((layer) => GETENT.map((p) => join(layer, p)))) {
    if (await stat(path).then(() => true, () => false)) return [];
  }
  const field = spec.user === undefined ? 'image user' : 'user';
  return [{ field, message: `systemd-nspawn needs getent in the image to switch to user ${user}, and this image has none; use isolation fly or an image with getent` }];
}

/** The containers whose unit files (in `unitFiles`) carry the agent's marker. */
export async function installedContainers(unitFiles: UnitFileStore): Promise<InstalledContainer[]> {
  const byName = new Map<string, InstalledContainer>();
  for (const file of await unitFiles.listManaged()) {
    const name = containerOfOrigin(file.origin);
    if (name === undefined) continue;
    const entry: InstalledContainer = byName.get(name) ?? { name, unit: containerUnitName(name), hash: undefined, imageId: undefined, files: [], imageIds: [] };
    entry.files.push(file.name);
    const imageId = new RegExp(`^${IMAGE_KEY}=(sha(?:256|512)-[0-9a-f]+)$`, 'm').exec(file.text)?.[1];
    if (imageId !== undefined && !entry.imageIds.includes(imageId)) entry.imageIds.push(imageId);
    if (file.name === entry.unit) {
      entry.hash = specHashOf(file.text);
      entry.imageId = imageId;
    }
    byName.set(name, entry);
  }
  return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
}

export class ContainerUnits {
  constructor(private readonly options: ContainerUnitsOptions) {}

  paths(name: string): ContainerPaths {
    return containerPaths(this.options.stateDir, name);
  }

  /** The host paths and facts the renderer needs for `spec`. */
  hostFor(spec: ContainerSpec): ContainerHost {
    const { facts, output, wantedBy } = this.options;
    const p = this.paths(spec.name);
    const layerDirs = (ids: readonly string[]): string[] => ids.map((id) => this.options.images.layerDir(id));
    const pod = spec.apps && {
      apps: spec.apps.map((a) => {
        const ap = appPaths(this.options.stateDir, spec.name, a.name);
        return { imageLayers: layerDirs(a.image.layers), layer: { upper: ap.upper, work: ap.work, merged: ap.merged } };
      }),
      ...podFiles(this.options.stateDir, spec.name),
    };
    return {
      imageLayers: layerDirs(spec.image.layers),
      layer: { upper: p.upper, work: p.work, merged: p.merged },
      metacopy: facts.metacopy,
      ...(facts.legacyCgroups && { legacyCgroups: facts.legacyCgroups }),
      ...(output === 'file' && { outputFile: p.output }),
      ...(wantedBy !== undefined && { wantedBy }),
      ...(this.options.network && { network: { helper: this.options.network.helper, runDir: this.options.network.runDir, netnsDir: this.options.network.netnsDir, cniPath: this.options.network.cniPath } }),
      ...(pod && { pod }),
    };
  }

  /** The address of a running container on a network of its own: from its result file (the CNI cache, or the built-in network's CNI-style result at the same path). */
  async networkAddress(name: string, network: string): Promise<string | undefined> {
    const settings = this.options.network;
    if (settings === undefined) return undefined;
    const cached = await new CniRunner({ cniPath: settings.cniPath, runDir: settings.runDir }).cached(network, { container: name, ifname: CONTAINER_IFNAME }).catch(() => undefined);
    return resultAddresses(cached?.result)[0];
  }

  /**
   * The spec as it runs: the `default` network given its interface and subnet, and a bare program name
   * resolved on PATH in the image's layers (./resolve-exec.ts).
   */
  async complete(declared: ContainerSpec): Promise<ContainerSpec> {
    const spec = await withResolvedExec(await this.withNetwork(declared), this.layersOf(declared.image));
    if (!spec.apps) return spec;
    const apps = await Promise.all(spec.apps.map(async (app) => {
      const exec = (await withResolvedExec(appContainer(spec, app), this.layersOf(app.image))).exec;
      return exec === undefined ? app : { ...app, exec };
    }));
    return { ...spec, apps };
  }

  /** The host directories of an image's layers, bottom first. */
  private layersOf(image: ContainerSpec['image']): string[] {
    return image.layers.map((id) => this.options.images.layerDir(id));
  }

  /** The spec with the `default` network given its host interface and subnet (free of the host's routes). */
  private async withNetwork(spec: ContainerSpec): Promise<ContainerSpec> {
    if (spec.network?.mode !== 'default' || this.options.network === undefined) return spec;
    return { ...spec, network: { mode: 'macvlan', network: await defaultNetwork(this.options.network), dns: spec.network.dns } };
  }

  /**
   * The spec completed (complete()), every
   * check (the spec's, then the host's: volume host paths must exist, a non-root
   * user under nspawn needs getent in the image) and the
   * rendered units. Throws ContainerSpecError listing the problems of this container.
   */
  async render(declared: ContainerSpec): Promise<RenderedContainer> {
    const spec = await this.complete(declared);
    if (!this.options.facts.overlay) {
      throw new AgentError({
        code: 'container.no-overlay',
        message: 'this kernel has no overlay file system, so containers cannot share image trees',
        subject: `container ${spec.name}`,
        hint: 'Load the overlay module (modprobe overlay)',
      });
    }
    const host = this.hostFor(spec);
    const problems = [...specProblems(spec), ...(await volumeProblems(spec)), ...(await userProblems(spec, host.imageLayers))];
    if (problems.length > 0) throw new ContainerSpecError(spec.name, problems);
    return renderContainer({ spec, host }, sha256Hex);
  }

  /**
   * Creates the writable layer over the image layers `layerIds` (bottom first; kept if present;
   * a pod: also each app's over its image's layers), writes the unit
   * files atomically and removes the container's files that are no longer rendered.
   * `installedFiles`: its files as installed() last listed them (a reconciler has them;
   * default: read them again).
   */
  async install(name: string, rendered: RenderedContainer, layerIds: readonly string[], installedFiles?: readonly string[]): Promise<void> {
    if (rendered.apps === undefined) await prepareLayer(this.paths(name), layerIds.map((id) => this.options.images.layerDir(id)));
    else await mkdir(this.paths(name).dir, { recursive: true, mode: 0o700 });
    for (const app of rendered.apps ?? []) {
      await prepareLayer(appPaths(this.options.stateDir, name, app.name), app.layers.map((id) => this.options.images.layerDir(id)));
    }
    for (const file of rendered.files) await this.options.unitFiles.write(file.name, file.text);
    const previous = installedFiles ?? await this.filesOf(name);
    for (const file of previous.filter((f) => !rendered.files.some((r) => r.name === f))) await this.options.unitFiles.remove(file);
  }

  /** The containers whose unit files carry the agent's marker. */
  installed(): Promise<InstalledContainer[]> {
    return installedContainers(this.options.unitFiles);
  }

  /**
   * Removes the container's unit files (stop it first); the writable layer is kept.
   * `installedFiles` as for install(). Returns the files removed.
   */
  async uninstall(name: string, installedFiles?: readonly string[]): Promise<string[]> {
    const files = [...(installedFiles ?? await this.filesOf(name))];
    for (const file of files) await this.options.unitFiles.remove(file);
    return files;
  }

  private async filesOf(name: string): Promise<string[]> {
    return (await this.installed()).find((c) => c.name === name)?.files ?? [];
  }

  /** `agentctl rm`: the writable layer, once the units are gone. */
  async removeLayer(name: string): Promise<void> {
    await removeLayer(this.paths(name));
  }
}
