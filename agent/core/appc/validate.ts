/**
 * Validation of manifest text or parsed JSON of either kind, the kind chosen by its
 * `acKind` as `actool validate` does; JSON syntax errors are reported by line and column.
 * Pure: no I/O.
 */

import { AgentError } from '../errors.js';
import { readAcKind } from './header.js';
import { findJsonSyntaxError } from './json-syntax.js';
import { validateImageManifest, type ImageManifest } from './manifest.js';
import { validatePodManifest, type PodManifest } from './pod.js';
import { readObject } from './json.js';

export type AnyManifest =
  | { kind: 'ImageManifest'; manifest: ImageManifest }
  | { kind: 'PodManifest'; manifest: PodManifest };

/** Checks a parsed manifest of either kind; throws `appc.invalid-manifest`. */
export function validateManifest(json: unknown): AnyManifest {
  const kind = readAcKind(readObject(json, '').acKind, 'acKind');
  return kind === 'ImageManifest'
    ? { kind, manifest: validateImageManifest(json) }
    : { kind, manifest: validatePodManifest(json) };
}

/** Line and column (1-based) of a character offset in `text`. */
function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset).split('\n');
  return { line: before.length, column: before[before.length - 1].length + 1 };
}

/** Parses manifest text; a syntax error names its line and column, in Go's words. */
export function parseManifestText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const found = findJsonSyntaxError(text) ?? { offset: 0, message: e instanceof Error ? e.message : String(e) };
    const { line, column } = lineAndColumn(text, found.offset);
    throw new AgentError({
      code: 'appc.invalid-manifest',
      message: `error at line ${line}, column ${column}: ${found.message}`,
      subject: 'manifest',
      hint: 'Write the manifest as valid JSON',
      cause: e,
    });
  }
}
