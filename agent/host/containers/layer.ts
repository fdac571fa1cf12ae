/**
 * A container's writable layer: created before its unit first starts, kept across stops,
 * restarts and agent restarts, removed only on `agentctl rm`. The directory is root-only
 * (0700); what the container wrote sits in `upper/` with the container's own UIDs.
 */
import { mkdir, rm } from 'node:fs/promises';
import { AgentError } from '../../core/errors.js';
import type { ContainerPaths } from './paths.js';

export async function prepareLayer(paths: ContainerPaths): Promise<void> {
  await mkdir(paths.dir, { recursive: true, mode: 0o700 });
  for (const dir of [paths.upper, paths.work, paths.merged]) await mkdir(dir, { recursive: true, mode: 0o755 });
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
