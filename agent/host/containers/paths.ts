/**
 * Where a container's own state lives: `<state>/containers/<name>/` holds its writable
 * layer (`upper/`, the overlay's `work/`, the mount point `merged/`) and, on a manager
 * without a journal, its output file. The image tree it runs is the store's
 * `<state>/images/<id>/rootfs`, shared and never written.
 */
import { join } from 'node:path';

export interface ContainerPaths {
  dir: string;
  upper: string;
  work: string;
  merged: string;
  output: string;
}

export function containersDir(stateDir: string): string {
  return join(stateDir, 'containers');
}

export function containerPaths(stateDir: string, name: string): ContainerPaths {
  const dir = join(containersDir(stateDir), name);
  return { dir, upper: join(dir, 'upper'), work: join(dir, 'work'), merged: join(dir, 'merged'), output: join(dir, 'output.log') };
}
