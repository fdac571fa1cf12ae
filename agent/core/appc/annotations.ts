/**
 * Annotations of images, pods and pod apps: unique AC Identifier names; `created` must be
 * an RFC 3339 date, `homepage` and `documentation` http(s) URLs. Messages follow the
 * reference implementation. Pure: no I/O.
 */

import { readNamedValue, type Label } from './labels.js';
import { at, invalid, quote, readArray } from './json.js';

export type Annotation = Label;

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-](\d{2}):(\d{2}))$/;
const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):/;

/** Why `text` is not an RFC 3339 date, or undefined. */
function dateProblem(text: string): string | undefined {
  const m = RFC3339.exec(text);
  const bad = `bad Date: parsing time ${quote(text)} as "2006-01-02T15:04:05Z07:00"`;
  if (!m) return bad;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12) return `${bad}: month out of range`;
  if (day < 1 || day > daysInMonth) return `${bad}: day out of range`;
  if (hour > 23 || minute > 59 || second > 59) return `${bad}: time out of range`;
  if (m[9] !== undefined && (Number(m[9]) > 23 || Number(m[10]) > 59)) return `${bad}: time zone offset out of range`;
  return undefined;
}

/** Why `text` is not an http or https URL, or undefined. */
function httpUrlProblem(text: string): string | undefined {
  const badEscape = /%(?![0-9A-Fa-f]{2}).{0,2}/s.exec(text);
  if (badEscape) return `bad URL: parse ${quote(text)}: invalid URL escape ${quote(badEscape[0])}`;
  const scheme = SCHEME.exec(text)?.[1].toLowerCase();
  if (scheme !== 'http' && scheme !== 'https') return 'bad URL scheme, must be http/https';
  return undefined;
}

const VALUE_RULES: Readonly<Record<string, (value: string) => string | undefined>> = {
  created: dateProblem,
  homepage: httpUrlProblem,
  documentation: httpUrlProblem,
};

/** Reads and checks an annotation list. */
export function readAnnotations(value: unknown, path: string): Annotation[] {
  const annotations = readArray(value, path, readNamedValue);
  const seen = new Set<string>();
  annotations.forEach((a, i) => {
    if (seen.has(a.name)) invalid(at(at(path, i), 'name'), `duplicate annotations of name ${quote(a.name)}`);
    seen.add(a.name);
  });
  annotations.forEach((a, i) => {
    const problem = Object.hasOwn(VALUE_RULES, a.name) ? VALUE_RULES[a.name](a.value) : undefined;
    if (problem) invalid(at(at(path, i), 'value'), problem);
  });
  return annotations;
}
