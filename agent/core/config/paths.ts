/**
 * POSIX path arithmetic for the paths a cloud-config names (`write_files`), so that a path
 * such as `/etc/../usr/x` is judged by where it really points. Pure: no I/O.
 */

/** The absolute, normalised form of `path`: `.`, `..` and repeated `/` resolved from `/`. */
export function resolveAbsolute(path: string): string {
  const parts: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return `/${parts.join('/')}`;
}

/** Whether `path` (absolute, normalised) is inside `dir` (not `dir` itself). */
export function isInside(path: string, dir: string): boolean {
  return path.startsWith(`${dir}/`);
}
