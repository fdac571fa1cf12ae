/**
 * Time zones for window arithmetic, as an injected offset function so window code stays pure
 * and tests can pin any zone (DST included) without touching the process environment.
 *
 * A zone maps an instant (ms since the epoch) to its UTC offset in ms: local wall time =
 * instant + offset. `wallToInstant` is the inverse, with a fixed rule at DST edges:
 * - a wall time that occurs twice (clocks go back) means its first occurrence;
 * - a wall time that does not exist (clocks go forward) is moved forward by the gap, so
 *   02:30 on a spring-forward night where 02:00 becomes 03:00 means 03:30 new time.
 * Pure: only ECMAScript Date and Intl.
 */

export interface TimeZone {
  /** A name for status and logs: `UTC`, `local`, or an IANA zone. */
  readonly name: string;
  /** Offset of local wall time from UTC at `instant`, in ms (east positive). */
  offsetMs(instant: number): number;
}

export const UTC: TimeZone = { name: 'UTC', offsetMs: () => 0 };

/** The zone of the running process (TZ / /etc/localtime as ECMAScript's Date sees it). */
export const LOCAL: TimeZone = {
  name: 'local',
  offsetMs: (instant) => -new Date(instant).getTimezoneOffset() * 60_000,
};

/** A zone by IANA name through Intl, e.g. `Europe/Berlin`. Throws RangeError if unknown. */
export function ianaZone(name: string): TimeZone {
  const format = new Intl.DateTimeFormat('en-US', {
    timeZone: name,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  });
  return {
    name,
    offsetMs(instant) {
      const parts: Record<string, number> = {};
      for (const part of format.formatToParts(instant)) parts[part.type] = Number(part.value);
      const wall = Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!);
      const whole = instant - (((instant % 1000) + 1000) % 1000);
      return wall - whole;
    },
  };
}

/** The zone named in config: `utc` or `local`. */
export function zoneFor(setting: 'utc' | 'local'): TimeZone {
  return setting === 'utc' ? UTC : LOCAL;
}

/** The instant at which wall-clock time `wall` (ms, as if UTC) occurs in `zone`. */
export function wallToInstant(zone: TimeZone, wall: number): number {
  // The offsets in force a day around `wall` bound the candidates; DST shifts are < 1 day.
  const before = zone.offsetMs(wall - 86_400_000);
  const after = zone.offsetMs(wall + 86_400_000);
  const candidates = [wall - before, wall - after]
    .filter((instant) => instant + zone.offsetMs(instant) === wall)
    .sort((a, b) => a - b);
  if (candidates.length > 0) return candidates[0]!;
  // In a gap: keep the offset from before the change, which lands after the gap.
  return wall - before;
}
