/**
 * A container's writable layer: created before its unit first starts, kept across stops,
 * restarts and agent restarts, removed only on `agentctl rm`. The directory is root-only
 * (0700); what the container wrote sits in `upper/` with the container's own UIDs.
 * systemd-nspawn refuses a tree without `/usr`, and an OCI image need not have one (a
 * static binary in `/`): when no image layer provides it, the writable layer does.
 */
import { lstat, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { AgentError } from '../../core/errors.js';
import type { ContainerPaths } from './paths.js';

/**
 * Whether the overlay of `layers` (host directories, bottom first) has a `/usr`: the
 * topmost layer with an entry `usr` decides, and an overlayfs whiteout there (a 0/0
 * character device) hides the ones below.
 */
export async function layersHaveUsr(layers: readonly string[]): Promise<boolean> {
  for (const layer of [...layers].reverse()) {
    const usr = await lstat(join(layer, 'usr')).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return undefined;
      throw e;
    });
    if (usr !== undefined) return !(usr.isCharacterDevice() && usr.rdev === 0);
  }
  return false;
}

/** Creates the writable layer (kept if present) over the image layers `layers` (bottom first), with `upper/usr` when they have no /usr. */
export async function prepareLayer(paths: ContainerPaths, layers: readonly string[]): Promise<void> {
  await mkdir(paths.dir, { recursive: true, mode: 0o700 });
  for (const dir of [paths.upper, paths.work, paths.merged]) await mkdir(dir, { recursive: true, mode: 0o755 });
  if (!(await layersHaveUsr(layers))) await mkdir(join(paths.upper, 'usr'), { recursive: true, mode: 0o755 });
}

/** Removes the layer; the container's units must be stopped (fly: its overlay unmounted). */
export async function removeLayer(paths: ContainerPaths): Promise<void> {
  try {
    await rm(paths.dir, { recursive: true, force: true });
  } catch (e) {
    throw new AgentError({
      code: 'container.layer-busy',
      message: `cannot remove the writable layer: ${e instanceof Error ? e.message : String(e)}`,
      subject: paths.dir,
      hint: 'Stop the container first (agentctl stop NAME), then remove it again',
      cause: e,
    });
  }
}
