/**
 * Parsing of maintenance windows as locksmith writes them: a start `"[Day ]HH:MM"`
 * (`coreos.locksmith.window-start`, `host-agent.images.window.start`) and a length written as a
 * Go duration (`window-length`: `1h`, `1h30m`, `90m`, `45s`).
 *
 * Rules (those of locksmith's timeutil and Go's time.ParseDuration):
 * - the start is one or two whitespace-separated fields; the day is a three-letter English day
 *   name in any case (`Sun`…`Sat`); the time is `H:M` in decimal digits (leading zeros allowed),
 *   hour 0-23, minute 0-59;
 * - the length is a Go duration, never negative, shorter than the period (a day without a day
 *   name, a week with one). Unlike locksmith we also refuse a zero length: that window never opens.
 * Every problem is a sentence naming the accepted forms. Pure: no I/O.
 */

/** A parse result: the value, or one sentence saying what is wrong and what is accepted. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; problem: string };

export interface WindowStart {
  /** 0 = Sunday … 6 = Saturday; absent for a window that opens every day. */
  weekday?: number;
  hour: number;
  minute: number;
}

export interface Window {
  start: WindowStart;
  /** Length in milliseconds, > 0 and shorter than the period (1 day, or 7 with a weekday). */
  lengthMs: number;
}

export const WEEKDAY_NAMES = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const;

export const WINDOW_START_FORMS =
  'accepted forms: "HH:MM" (every day) or "Day HH:MM" (once a week), Day one of ' +
  `${WEEKDAY_NAMES.join(', ')} (any case), hour 0-23, minute 0-59; e.g. "04:00" or "Thu 04:00"`;

export const DURATION_FORMS =
  'accepted forms: Go durations, numbers with units h, m, s, ms, us, ns, ' +
  'e.g. "1h", "1h30m", "90m", "45s", "1.5h"';

const MS_PER_UNIT: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  '\u00b5s': 1e-3, // micro sign
  '\u03bcs': 1e-3, // Greek mu
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Go's limit: a duration is an int64 count of nanoseconds. */
const MAX_DURATION_MS = 9_223_372_036_854.775807;
const DAY_MS = 86_400_000;
const WEEK_MS = 7 * DAY_MS;

const fail = (problem: string): { ok: false; problem: string } => ({ ok: false, problem });

/** Parse `"[Day ]HH:MM"`. */
export function parseWindowStart(text: string): Parsed<WindowStart> {
  const problem = (why: string) => fail(`invalid window start "${text}": ${why}; ${WINDOW_START_FORMS}`);
  const fields = text.trim() === '' ? [] : text.trim().split(/\s+/);
  if (fields.length !== 1 && fields.length !== 2) return problem('wrong number of fields');
  let weekday: number | undefined;
  if (fields.length === 2) {
    const day = fields.shift()!;
    weekday = WEEKDAY_NAMES.findIndex((name) => name.toLowerCase() === day.toLowerCase());
    if (weekday < 0) return problem(`"${day}" is not a day of the week`);
  }
  const time = /^(\d+):(\d+)$/.exec(fields[0]!);
  if (!time) return problem(`"${fields[0]}" is not a time of day`);
  const hour = Number(time[1]);
  const minute = Number(time[2]);
  if (hour > 23) return problem('the hour must be 0-23');
  if (minute > 59) return problem('the minute must be 0-59');
  return { ok: true, value: weekday === undefined ? { hour, minute } : { weekday, hour, minute } };
}

/**
 * Parse a Go duration (`[-+]?(number unit)+` or `0`) into milliseconds (fractions of a
 * millisecond are kept). Negative values parse; callers that refuse them say so.
 */
export function parseGoDuration(text: string): Parsed<number> {
  const problem = (why: string) => fail(`invalid duration "${text}": ${why}; ${DURATION_FORMS}`);
  let rest = text;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    sign = rest.startsWith('-') ? -1 : 1;
    rest = rest.slice(1);
  }
  if (rest === '0') return { ok: true, value: 0 };
  if (rest === '') return problem('it is empty');
  let total = 0;
  const component = /^(\d*)(?:\.(\d*))?([^\d.]+)/;
  while (rest !== '') {
    const match = component.exec(rest);
    if (!match && /^\d|^\.\d/.test(rest)) return problem('a unit is missing');
    if (!match || (match[1] === '' && (match[2] ?? '') === '')) return problem('a number is missing');
    const unit = match[3]!;
    const perUnit = MS_PER_UNIT[unit];
    if (perUnit === undefined) return problem(`unknown unit "${unit}"`);
    total += Number(`${match[1] || '0'}.${match[2] || '0'}`) * perUnit;
    rest = rest.slice(match[0].length);
  }
  if (!(total <= MAX_DURATION_MS)) return problem('it is out of range');
  return { ok: true, value: sign * total };
}

/** Parse a whole window: start and length, with the period rules. */
export function parseWindow(start: string, length: string): Parsed<Window> {
  const parsedStart = parseWindowStart(start);
  if (!parsedStart.ok) return parsedStart;
  const parsedLength = parseGoDuration(length);
  if (!parsedLength.ok) return parsedLength;
  const lengthMs = parsedLength.value;
  const weekly = parsedStart.value.weekday !== undefined;
  const period = weekly ? 'a week (the start names a day)' : 'a day (the start names no day)';
  if (lengthMs <= 0) {
    return fail(`invalid window length "${length}": it must be greater than zero, a window of ` +
      `length ${lengthMs < 0 ? 'below ' : ''}zero never opens; ${DURATION_FORMS}`);
  }
  if (lengthMs >= (weekly ? WEEK_MS : DAY_MS)) {
    return fail(`invalid window length "${length}": it must be shorter than ${period}`);
  }
  return { ok: true, value: { start: parsedStart.value, lengthMs } };
}

/** The start as written in config, e.g. `Thu 04:00` or `23:05`. */
export function formatWindowStart(start: WindowStart): string {
  const time = `${String(start.hour).padStart(2, '0')}:${String(start.minute).padStart(2, '0')}`;
  return start.weekday === undefined ? time : `${WEEKDAY_NAMES[start.weekday]} ${time}`;
}
