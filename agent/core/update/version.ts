/**
 * One total order over OS version strings, whatever the scheme: semantic versions,
 * dotted numbers (`12`, `2.0`, `2023.4.1`) and Debian versions (`1:2.0~rc1-3`).
 *
 * Every string is compared as dpkg compares versions (deb-version(7): epoch, then the
 * upstream part, then the revision after the last `-`; digit runs numerically, other
 * runs by character where letters sort before other characters and `~` before
 * everything, even the end). A valid semantic version is first rewritten to the dpkg
 * form that means the same: `X.Y.Z-pre+build` → `X.Y.Z~pre` (a pre-release sorts before
 * its release, build metadata is ignored), so `1.0.0-rc.1 < 1.0.0` and semver §11's
 * example chain keeps its order. Because every version is mapped to one key and all keys
 * are compared by one lexicographic rule, the relation is a total preorder on all
 * strings: reflexive, transitive, any two comparable. Distinct strings may be equal
 * (`1.0` = `1.00`, `1.0.0+a` = `1.0.0+b`, `0:2` = `2`).
 */

/** Strict semver 2.0.0: the core, the pre-release and the build metadata. */
const SEMVER_RE =
  /^((?:0|[1-9]\d*)\.(?:0|[1-9]\d*)\.(?:0|[1-9]\d*))(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*)?$/;

/** What a published release may call its version: starts with a digit (after an epoch), no spaces. */
const VERSION_RE = /^(?:\d+:)?\d[A-Za-z0-9.+~_:-]*$/;

/** Whether `text` may name a release (a semantic, dotted or Debian-style version). */
export function isVersion(text: string): boolean {
  return VERSION_RE.test(text);
}

interface VersionKey {
  epoch: number;
  upstream: string;
  revision: string;
}

/** The dpkg key of `text`; a semantic version is rewritten first (see the module comment). */
export function versionKey(text: string): VersionKey {
  const semver = SEMVER_RE.exec(text);
  if (semver) return { epoch: 0, upstream: semver[2] === undefined ? semver[1]! : `${semver[1]}~${semver[2]}`, revision: '' };
  const epochMatch = /^(\d+):/.exec(text);
  const rest = epochMatch ? text.slice(epochMatch[0].length) : text;
  const dash = rest.lastIndexOf('-');
  return {
    epoch: epochMatch ? Number(epochMatch[1]) : 0,
    upstream: dash < 0 ? rest : rest.slice(0, dash),
    revision: dash < 0 ? '' : rest.slice(dash + 1),
  };
}

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';

/** dpkg's weight of a character in a non-digit run: `~` < end (and digits) < letters < the rest. */
function weight(c: string | undefined): number {
  if (c === undefined || isDigit(c)) return 0;
  if (c === '~') return -1;
  if (/[A-Za-z]/.test(c)) return c.charCodeAt(0);
  return c.charCodeAt(0) + 256;
}

/** dpkg's verrevcmp: alternate non-digit runs (by weight) and digit runs (numerically). */
function compareRuns(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    while ((i < a.length && !isDigit(a[i])) || (j < b.length && !isDigit(b[j]))) {
      const d = weight(a[i]) - weight(b[j]);
      if (d !== 0) return Math.sign(d);
      i++;
      j++;
    }
    while (a[i] === '0') i++;
    while (b[j] === '0') j++;
    let first = 0;
    while (isDigit(a[i]) && isDigit(b[j])) {
      if (first === 0) first = a.charCodeAt(i) - b.charCodeAt(j);
      i++;
      j++;
    }
    if (isDigit(a[i])) return 1;
    if (isDigit(b[j])) return -1;
    if (first !== 0) return Math.sign(first);
  }
  return 0;
}

/** -1, 0 or 1 as version `a` is older than, the same as, or newer than `b`. */
export function compareVersions(a: string, b: string): number {
  const ka = versionKey(a);
  const kb = versionKey(b);
  if (ka.epoch !== kb.epoch) return Math.sign(ka.epoch - kb.epoch);
  return compareRuns(ka.upstream, kb.upstream) || compareRuns(ka.revision, kb.revision);
}
