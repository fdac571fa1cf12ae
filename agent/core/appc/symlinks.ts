/**
 * Where a symlink of an image's tree leads, resolved as the kernel would inside the image's
 * root: absolute targets start at the root (as the container sees them), symlinks met on
 * the way (a chain such as `a -> /`, `b -> a/etc/passwd`) are followed, at most 40 of them
 * (the kernel's ELOOP bound). A `..` that would climb above the root is an escape: chroot
 * would keep it at the root, but a process on the host that follows the link leaves the
 * tree there, so the image is refused instead. Components that do not exist (yet) are taken
 * as directories, which is the most any later entry could make of them.
 */

/** The kernel's limit on symlinks followed in one path lookup (ELOOP). */
export const MAX_SYMLINK_HOPS = 40;

export type Resolution =
  | { kind: 'inside'; path: string[] }
  | { kind: 'escape' }
  | { kind: 'loop' };

function components(path: string): string[] {
  return path.split('/').filter((c) => c !== '' && c !== '.');
}

/**
 * Resolves `target`, the target of a symlink in the directory `dir` (components below the
 * root), through `readlink` (the target of the symlink at a path joined with `/`, or
 * undefined when that path is not a symlink).
 */
export function resolveSymlink(dir: readonly string[], target: string, readlink: (path: string) => string | undefined): Resolution {
  let at: string[] = target.startsWith('/') ? [] : [...dir];
  // What is left to walk, in reverse so that taking the next component is a pop.
  const pending = components(target).reverse();
  let hops = 1;
  while (pending.length > 0) {
    const part = pending.pop()!;
    if (part === '..') {
      if (at.length === 0) return { kind: 'escape' };
      at.pop();
      continue;
    }
    at.push(part);
    const link = readlink(at.join('/'));
    if (link === undefined) continue;
    if (++hops > MAX_SYMLINK_HOPS) return { kind: 'loop' };
    at.pop();
    if (link.startsWith('/')) at = [];
    pending.push(...components(link).reverse());
  }
  return { kind: 'inside', path: at };
}
