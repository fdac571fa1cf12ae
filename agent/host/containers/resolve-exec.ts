/**
 * A program named without a slash (`nginx`, `sh`: common in OCI images' Entrypoint and Cmd)
 * is looked up on the container's PATH in the image's layers, as podman's runtime does in
 * the rootfs, and the command gets the absolute path it found. The top layer decides: a
 * whiteout there hides the file of a lower layer. Names with a slash, and names found
 * nowhere, are left as they are (the spec check then refuses a relative program).
 */
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ContainerSpec } from '../../core/containers/spec.js';

/** PATH when neither the image nor the container sets one (podman's default). */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The PATH the payload gets: the container's environment over the image's. */
function pathOf(spec: ContainerSpec): string {
  const image = spec.image.run?.environment.filter(([name]) => name === 'PATH').pop()?.[1];
  return spec.environment.PATH ?? image ?? DEFAULT_PATH;
}

/** Whether `path` (absolute, in the container) is a file in the stack of `layers` (bottom first). */
async function inLayers(layers: readonly string[], path: string): Promise<boolean> {
  for (const layer of [...layers].reverse()) {
    const found = await lstat(join(layer, path)).catch(() => undefined);
    if (!found) continue;
    const whiteout = found.isCharacterDevice() && found.rdev === 0;
    return !whiteout && !found.isDirectory();
  }
  return false;
}

/** `spec` with its program made absolute when it is a bare name found on PATH in `layers`. */
export async function withResolvedExec(spec: ContainerSpec, layers: readonly string[]): Promise<ContainerSpec> {
  const exec = spec.exec ?? spec.image.run?.exec;
  const program = exec?.[0];
  if (!exec || program === undefined || program === '' || program.includes('/')) return spec;
  for (const dir of pathOf(spec).split(':').filter((d) => d.startsWith('/'))) {
    const candidate = `${dir.replace(/\/+$/, '')}/${program}`;
    if (await inLayers(layers, candidate)) return { ...spec, exec: [candidate, ...exec.slice(1)] };
  }
  return spec;
}
