/**
 * When a maintenance window is open, with an injected clock (`now`) and time zone.
 *
 * A window opens at its start in wall-clock time (every day, or on its weekday) and stays open
 * for its length in real elapsed time, so it may wrap past midnight and past the end of the
 * week. Like locksmith, both ends are inside: a window is open at `start <= now <= end`.
 * DST edges follow the rules of `wallToInstant` (a start in a gap moves forward by the gap; a
 * start that occurs twice means the first). Pure: no I/O.
 */
import type { Window } from './window.js';
import { wallToInstant, type TimeZone } from './timezone.js';

/** One occurrence of a window. */
export interface Period {
  start: Date;
  end: Date;
}

/** The occurrences that start on the local calendar days from `now`-8 days to `now`+8 days. */
function periodsAround(window: Window, now: Date, zone: TimeZone): Period[] {
  const wallNow = new Date(now.getTime() + zone.offsetMs(now.getTime()));
  const periods: Period[] = [];
  for (let days = -8; days <= 8; days++) {
    const midnight = Date.UTC(wallNow.getUTCFullYear(), wallNow.getUTCMonth(), wallNow.getUTCDate() + days);
    if (window.start.weekday !== undefined && new Date(midnight).getUTCDay() !== window.start.weekday) continue;
    const wallStart = midnight + window.start.hour * 3_600_000 + window.start.minute * 60_000;
    const start = wallToInstant(zone, wallStart);
    periods.push({ start: new Date(start), end: new Date(start + window.lengthMs) });
  }
  return periods;
}

/** The occurrence open at `now`, or undefined when the window is closed. */
export function currentWindow(window: Window, now: Date, zone: TimeZone): Period | undefined {
  const t = now.getTime();
  return periodsAround(window, now, zone).find((p) => p.start.getTime() <= t && t <= p.end.getTime());
}

export function isInWindow(window: Window, now: Date, zone: TimeZone): boolean {
  return currentWindow(window, now, zone) !== undefined;
}

/** When the open window closes, or undefined when it is closed now. */
export function windowEnd(window: Window, now: Date, zone: TimeZone): Date | undefined {
  return currentWindow(window, now, zone)?.end;
}

/** The first occurrence starting strictly after `now` (the next one even while one is open). */
export function nextWindow(window: Window, now: Date, zone: TimeZone): Period {
  const t = now.getTime();
  const next = periodsAround(window, now, zone).find((p) => p.start.getTime() > t);
  // Eight days ahead always holds a start of a daily or weekly window.
  return next!;
}

export function nextWindowStart(window: Window, now: Date, zone: TimeZone): Date {
  return nextWindow(window, now, zone).start;
}

/**
 * Milliseconds from `now` to the start of the relevant occurrence, as locksmith's
 * DurationToStart: <= 0 while a window is open (how deep into it), > 0 until the next one.
 */
export function msToWindowStart(window: Window, now: Date, zone: TimeZone): number {
  const open = currentWindow(window, now, zone);
  return (open ?? nextWindow(window, now, zone)).start.getTime() - now.getTime();
}
