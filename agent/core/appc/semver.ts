/**
 * SemVer strings as the appc reference reads them (coreos/go-semver): optional `+metadata`,
 * then optional `-prerelease`, then exactly three dot-separated integers; 0.0.0 is refused.
 * Pure: no I/O.
 */

export interface SemVer {
  major: number;
  minor: number;
  patch: number;
  preRelease: string;
  metadata: string;
}

const INTEGER = /^[+-]?[0-9]+$/;

/** Parses `value`, or returns the reference's message when it is not a usable SemVer. */
export function parseSemVer(value: string): SemVer | string {
  let rest = value;
  let metadata = '';
  let preRelease = '';
  const plus = rest.indexOf('+');
  if (plus >= 0) [rest, metadata] = [rest.slice(0, plus), rest.slice(plus + 1)];
  const dash = rest.indexOf('-');
  if (dash >= 0) [rest, preRelease] = [rest.slice(0, dash), rest.slice(dash + 1)];
  const parts = rest.split('.');
  if (parts.length < 3) return 'SemVer is bad';
  const [major, minor, patchText] = [parts[0], parts[1], parts.slice(2).join('.')];
  if (![major, minor, patchText].every((p) => INTEGER.test(p))) return 'SemVer is bad';
  const v = { major: Number(major), minor: Number(minor), patch: Number(patchText), preRelease, metadata };
  if (v.major === 0 && v.minor === 0 && v.patch === 0 && preRelease === '' && metadata === '') {
    return 'SemVer cannot be zero';
  }
  return v;
}

/** Why `value` is not a SemVer, or undefined when it is one. */
export function semverProblem(value: string): string | undefined {
  const v = parseSemVer(value);
  return typeof v === 'string' ? v : undefined;
}

/** SemVer precedence: < 0, 0 or > 0 (metadata is ignored; a pre-release is lower). */
export function compareSemVer(a: SemVer, b: SemVer): number {
  for (const key of ['major', 'minor', 'patch'] as const) if (a[key] !== b[key]) return a[key] - b[key];
  if (a.preRelease === b.preRelease) return 0;
  if (a.preRelease === '') return 1;
  if (b.preRelease === '') return -1;
  const x = a.preRelease.split('.');
  const y = b.preRelease.split('.');
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const [p, q] = [x[i]!, y[i]!];
    if (p === q) continue;
    const [pn, qn] = [/^\d+$/.test(p), /^\d+$/.test(q)];
    if (pn && qn) return Number(p) - Number(q);
    if (pn !== qn) return pn ? -1 : 1;
    return p < q ? -1 : 1;
  }
  return x.length - y.length;
}
