/**
 * The layout of an image archive, checked entry by entry as the tar headers stream by:
 * only `manifest` (a regular file) and `rootfs` (a directory) with everything else under
 * `rootfs/`, no entry twice (a second manifest included), and at the end both present.
 * Names are cleaned lexically as the reference does (`./rootfs/a/../b` is `rootfs/b`), so
 * a name escaping the archive (`../x`, `/x`) is refused here; links and special files are
 * for the extractor to judge. Messages follow the reference (`actool validate`).
 * Pure: no I/O.
 */

import { AgentError } from '../errors.js';

/** The part of a tar header the checker needs; `type` as tar-stream names it. */
export interface TarEntryHeader {
  name: string;
  type?: string | null;
}

/** Where an entry belongs: the manifest, the rootfs (path relative to it; '' is rootfs itself), or nowhere (`.`). */
export type LayoutEntry = { kind: 'manifest' } | { kind: 'rootfs'; path: string } | { kind: 'skip' };

export interface LayoutChecker {
  /** Checks one entry; throws `appc.invalid-layout` when it does not belong. */
  add(entry: TarEntryHeader): LayoutEntry;
  /** Checks that the archive held a manifest and a rootfs; call after the last entry. */
  finish(): void;
}

const REGULAR = new Set(['file', 'contiguous-file']);

/** Cleans a path lexically like Go's filepath.Clean: no `.`, no `x/..`, no double slash. */
export function cleanPath(name: string): string {
  const rooted = name.startsWith('/');
  const out: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part !== '..') out.push(part);
    else if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
    else if (!rooted) out.push('..');
  }
  const joined = out.join('/');
  if (rooted) return `/${joined}`;
  return joined === '' ? '.' : joined;
}

function invalidLayout(message: string, subject?: string): never {
  throw new AgentError({
    code: 'appc.invalid-layout',
    message,
    ...(subject !== undefined && { subject }),
    hint: 'Rebuild the image so that its archive holds only "manifest" and the directory "rootfs/" (e.g. with actool build)',
  });
}

/** A fresh checker for one archive. */
export function createLayoutChecker(): LayoutChecker {
  const seen = new Set<string>();
  return {
    add(entry) {
      const name = cleanPath(entry.name);
      if (name === '.') return { kind: 'skip' };
      if (seen.has(name)) invalidLayout(`duplicate file entry in archive: ${name}`, entry.name);
      seen.add(name);
      if (name === 'manifest') {
        if (!REGULAR.has(entry.type ?? 'file')) invalidLayout('manifest is not a regular file', entry.name);
        return { kind: 'manifest' };
      }
      if (name === 'rootfs') {
        if (entry.type !== 'directory') invalidLayout('rootfs is not a directory', entry.name);
        return { kind: 'rootfs', path: '' };
      }
      if (!name.startsWith('rootfs/')) invalidLayout(`unrecognized file path in layout: ${JSON.stringify(name)}`, entry.name);
      return { kind: 'rootfs', path: name.slice('rootfs/'.length) };
    },
    finish() {
      if (!seen.has('manifest')) invalidLayout('no image manifest found in layout');
      if (!seen.has('rootfs')) invalidLayout('no rootfs found in layout');
    },
  };
}
