/**
 * Where a container's own state lives: `<state>/containers/<name>/` holds its writable
 * layer (`upper/`, the overlay's `work/`, the mount point `merged/`) and, on a manager
 * without a journal, its output file. The image tree it runs is the store's
 * `<state>/images/<id>/rootfs`, shared and never written. A pod's apps each have a layer
 * of their own under `apps/<app>/`.
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

/** The writable layer of app `app` of pod `pod`: `<state>/containers/<pod>/apps/<app>/`, removed with the pod's. */
export function appPaths(stateDir: string, pod: string, app: string): ContainerPaths {
  const dir = join(containersDir(stateDir), pod, 'apps', app);
  return { dir, upper: join(dir, 'upper'), work: join(dir, 'work'), merged: join(dir, 'merged'), output: join(containersDir(stateDir), pod, 'output.log') };
}

/** The FIFO through which a failing app ends its pod, and the file its IPC namespace is bound on (agent/core/containers/pod.ts). */
export function podFiles(stateDir: string, pod: string): { exitFifo: string; ipcNamespace: string } {
  return { exitFifo: join(containersDir(stateDir), pod, 'exit'), ipcNamespace: join(containersDir(stateDir), pod, 'ipc') };
}

export function containerPaths(stateDir: string, name: string): ContainerPaths {
  const dir = join(containersDir(stateDir), name);
  return { dir, upper: join(dir, 'upper'), work: join(dir, 'work'), merged: join(dir, 'merged'), output: join(dir, 'output.log') };
}
