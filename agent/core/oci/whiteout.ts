/**
 * OCI layer whiteouts (image-spec layer.md), read from an entry's path components:
 * `DIR/.wh.NAME` deletes `DIR/NAME` of the layers below, `DIR/.wh..wh..opq` hides every
 * entry of `DIR` in the layers below (an opaque directory). Other `.wh..wh.` names are
 * AUFS bookkeeping (`.wh..wh.plnk`, `.wh..wh.aufs`) and carry nothing for a layer: they are
 * ignored, as containers/storage does. A whiteout whose hidden name is empty, `.` or `..`
 * would act outside its directory and is refused. Pure: no I/O.
 */
import { AgentError } from '../errors.js';

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_MARKER = '.wh..wh..opq';
const META_PREFIX = '.wh..wh.';

/** What a layer entry is: an ordinary entry, a whiteout of `path`, the opaque marker of `dir`, or nothing. */
export type LayerEntryKind =
  | { kind: 'entry' }
  | { kind: 'whiteout'; path: string[] }
  | { kind: 'opaque'; dir: string[] }
  | { kind: 'ignore' };

/** Classifies the entry at `parts` (components already free of `.`, `..` and empty names). */
export function layerEntryKind(parts: readonly string[], subject: string): LayerEntryKind {
  const base = parts[parts.length - 1];
  if (base === undefined || !base.startsWith(WHITEOUT_PREFIX)) return { kind: 'entry' };
  const dir = parts.slice(0, -1);
  if (base === OPAQUE_MARKER) return { kind: 'opaque', dir };
  if (base.startsWith(META_PREFIX)) return { kind: 'ignore' };
  const hidden = base.slice(WHITEOUT_PREFIX.length);
  if (hidden === '' || hidden === '.' || hidden === '..') {
    throw new AgentError({
      code: 'image.unsafe-archive',
      message: `archive entry ${JSON.stringify(parts.join('/'))} is a whiteout of ${JSON.stringify(hidden)}, which would act outside its directory`,
      subject,
      hint: 'The image is malformed or malicious and was not stored: do not use it, and tell its publisher',
    });
  }
  return { kind: 'whiteout', path: [...dir, hidden] };
}
