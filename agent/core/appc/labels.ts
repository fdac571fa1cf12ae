/**
 * Labels of images and dependencies: unique AC Identifier names, never `name`, and the
 * `os`/`arch` pairs the appc spec 0.8.11 allows, with the reference implementation's
 * messages. Pure: no I/O.
 */

import { acIdentifierProblem, readAcIdentifier } from './names.js';
import { at, invalid, quote, readArray, readFields, readString } from './json.js';

export interface Label {
  name: string;
  value: string;
}

/** Allowed `arch` values per `os`; an `arch` label is checked only for a known `os`. */
export const VALID_OS_ARCH: Readonly<Record<string, readonly string[]>> = {
  linux: ['amd64', 'i386', 'aarch64', 'aarch64_be', 'armv6l', 'armv7l', 'armv7b', 'ppc64', 'ppc64le', 's390x'],
  freebsd: ['amd64', 'i386', 'arm'],
  darwin: ['x86_64', 'i386'],
};

/** Go's `%v` of a string list: `[a b c]`. */
function goList(items: readonly string[]): string {
  return `[${items.join(' ')}]`;
}

/** Why an os/arch pair is not allowed, or undefined; either may be missing. */
export function osArchProblem(os: string | undefined, arch: string | undefined): string | undefined {
  if (os === undefined) return undefined;
  const arches = Object.hasOwn(VALID_OS_ARCH, os) ? VALID_OS_ARCH[os] : undefined;
  if (!arches) return `bad os ${quote(os)} (must be one of: ${goList(Object.keys(VALID_OS_ARCH).sort())})`;
  if (arch !== undefined && !arches.includes(arch)) {
    return `bad arch ${quote(arch)} for ${os} (must be one of: ${goList(arches)})`;
  }
  return undefined;
}

/** Reads one `{name, value}` pair whose name is an AC Identifier (labels, annotations). */
export function readNamedValue(value: unknown, path: string): Label {
  let name = '';
  let text = '';
  readFields(value, path, {
    name: (v, p) => {
      name = readAcIdentifier(v, p);
    },
    value: (v, p) => {
      text = readString(v, p);
    },
  });
  if (name === '') invalid(at(path, 'name'), acIdentifierProblem(name) as string);
  return { name, value: text };
}

/** Reads and checks a label list. */
export function readLabels(value: unknown, path: string): Label[] {
  const labels = readArray(value, path, readNamedValue);
  const seen = new Map<string, string>();
  labels.forEach((label, i) => {
    if (label.name === 'name') invalid(at(at(path, i), 'name'), 'invalid label name: "name"');
    if (seen.has(label.name)) invalid(at(at(path, i), 'name'), `duplicate labels of name ${quote(label.name)}`);
    seen.set(label.name, label.value);
  });
  const [os, arch] = [seen.get('os'), seen.get('arch')];
  const problem = osArchProblem(os, arch);
  if (problem) {
    const culprit = osArchProblem(os, undefined) ? 'os' : 'arch';
    invalid(at(at(path, labels.findIndex((l) => l.name === culprit)), 'value'), problem);
  }
  return labels;
}
