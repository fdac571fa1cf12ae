/**
 * Reading the agent's state files so that a damaged one never stops the agent.
 *
 * Each kind of file has a pure check that turns the parsed JSON into its value: it accepts
 * it, repairs it (drops the entries that are not in the expected shape) or refuses it.
 * A file that does not parse, that is a directory, or that its check repairs or refuses is
 * moved aside to `<name>.corrupt-<UTC time>` in the same directory (one rename: the
 * evidence is kept), a warning names the file, what was wrong and what the agent does
 * instead, and the caller gets the repaired value (written back atomically when the kind
 * says how) or nothing: it then rebuilds the file or starts empty. A missing file is
 * simply nothing. Other read errors (permissions) are not corruption and are thrown.
 */
import { readFile, rename } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { describeError } from '../../core/errors.js';
import { fsyncDir, writeFileAtomic } from './atomic.js';

/** What a check made of a file: its value (with what was dropped, if anything), or why it is refused. */
export type Checked<T> = { value: T; dropped?: string } | { refused: string };

export interface StateFileKind<T> {
  /** What the file is, for the warning: "the image index". */
  what: string;
  /** What the agent does without it, for the warning: "it is rebuilt from the image directories". */
  instead: string;
  /** Pure: the value of the parsed file. */
  check(json: unknown): Checked<T>;
  /** The text of a repaired value, to write it back; without it a repaired file is only moved aside. */
  format?(value: T): string;
  /** Mode of a file written back; default 0644. */
  mode?: number;
}

/** Where warnings go: the agent's logger, or stderr for a process without one. */
export type Warn = (message: string) => void;

export const warnOnStderr: Warn = (message) => {
  process.stderr.write(`warning: ${message}\n`);
};

/** `<path>.corrupt-<UTC time to the millisecond>`. */
export function corruptPathFor(path: string, now: Date = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '');
  return join(dirname(path), `${basename(path)}.corrupt-${stamp}`);
}

/** Moves `path` (file or directory) aside as evidence, durably; returns where it went. */
export async function moveAside(path: string, now: Date = new Date()): Promise<string> {
  const aside = corruptPathFor(path, now);
  await rename(path, aside);
  await fsyncDir(dirname(path));
  return aside;
}

function checked<T>(kind: StateFileKind<T>, text: string): Checked<T> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    // Only where: V8's message quotes the text, which may hold secrets (password hashes).
    const at = /at position \d+/.exec(e instanceof Error ? e.message : '')?.[0];
    return { refused: `it does not parse as JSON${at ? ` (${at})` : ''}` };
  }
  return kind.check(json);
}

export interface ReadStateOptions {
  /** Where warnings go; default stderr. */
  warn?: Warn;
  /**
   * What to move aside when the file is refused, when it is not the file itself: the
   * directory whose record it is (an image whose meta.json is lost is not usable).
   */
  setAside?: string;
}

/**
 * The value of the state file at `path`, or undefined when it is missing or was refused
 * (then moved aside with a warning). A repaired file is moved aside and, when the kind can
 * format it, the repaired value written in its place.
 */
export async function readStateFile<T>(path: string, kind: StateFileKind<T>, options: ReadStateOptions = {}): Promise<T | undefined> {
  const warn = options.warn ?? warnOnStderr;
  let result: Checked<T>;
  try {
    result = checked(kind, await readFile(path, 'utf8'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code !== 'EISDIR') throw e;
    result = { refused: 'it is a directory' };
  }
  if ('value' in result && result.dropped === undefined) return result.value;
  let aside: string;
  try {
    aside = await moveAside('refused' in result ? options.setAside ?? path : path);
  } catch (e) {
    // Another reader of the same file moved it aside (and warned) first.
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  if ('refused' in result) {
    warn(`${path}: ${kind.what} is damaged: ${result.refused}; moved aside to ${basename(aside)}; ${kind.instead}`);
    return undefined;
  }
  if (kind.format) {
    try {
      await writeFileAtomic(path, kind.format(result.value), { mode: kind.mode ?? 0o644 });
    } catch (e) {
      // A full disk: put the original back (it is repaired again next time) and go on.
      await rename(aside, path);
      warn(`${path}: ${kind.what} is damaged: ${result.dropped} dropped; the repaired file cannot be written (${describeError(e)}); the original is left in place`);
      return result.value;
    }
  }
  warn(`${path}: ${kind.what} is damaged: ${result.dropped} dropped; the original was moved aside to ${basename(aside)}${kind.format ? ', the rest kept' : `; ${kind.instead}`}`);
  return result.value;
}

/** Pure helpers for checks. */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Checks the array `list` entry by entry: keeps those `isEntry` accepts and says how many
 * were dropped. `name` names the entries in the warning ("2 of 5 entries").
 */
export function keepValid<E>(list: unknown[], isEntry: (e: unknown) => e is E, name = 'entries'): { kept: E[]; dropped?: string } {
  const kept = list.filter(isEntry);
  const bad = list.length - kept.length;
  return bad === 0 ? { kept } : { kept, dropped: `${bad} of ${list.length} ${name}` };
}
