import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  currentWindow,
  isInWindow,
  msToWindowStart,
  nextWindow,
  nextWindowStart,
  windowEnd,
} from '../../../../agent/core/schedule/periods.js';
import { ianaZone, UTC, type TimeZone } from '../../../../agent/core/schedule/timezone.js';
import { parseWindow, type Window } from '../../../../agent/core/schedule/window.js';

const H = 3_600_000;
const M = 60_000;
const S = 1000;

function win(start: string, length: string): Window {
  const parsed = parseWindow(start, length);
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.problem);
  return parsed.value;
}

const at = (iso: string) => new Date(iso);

// locksmith's DurationToStart cases (times in PDT), run both in Los Angeles time and, with the
// same wall times, in UTC: <= 0 while open (how deep into it), > 0 until the next start.
const LOCKSMITH_TO_START: Array<[string, string, string, number]> = [
  ['00:15', '10s', '2015-05-21T00:00:00', 15 * M],
  ['00:00', '1h', '2015-05-21T00:00:00', 0],
  ['00:00', '1h', '2015-05-21T00:00:01', -S],
  ['02:33', '10h', '2015-05-21T12:33:00', -10 * H],
  ['02:33', '10h', '2015-05-21T12:33:01', 13 * H + 59 * M + 59 * S],
  ['23:05', '11h', '2015-05-21T09:33:01', -(10 * H + 28 * M + S)],
  ['Thu 00:15', '10s', '2015-05-21T00:00:00', 15 * M],
  ['Thu 00:00', '1h', '2015-05-21T00:00:00', 0],
  ['Sun 00:00', '1h', '2015-05-17T00:00:01', -S],
  ['Sun 02:33', '10h', '2015-05-17T12:33:00', -10 * H],
  ['Sat 23:05', '11h', '2015-05-17T09:33:01', -(10 * H + 28 * M + S)],
  ['Mon 9:00', '1h', '2015-05-30T23:00:00', 34 * H],
  ['Sun 23:00', '4h', '2015-06-01T01:00:00', -2 * H],
];

test("locksmith's window table, in Los Angeles (PDT) and in UTC", () => {
  const zones: Array<[TimeZone, string]> = [[ianaZone('America/Los_Angeles'), '-07:00'], [UTC, 'Z']];
  for (const [zone, suffix] of zones) {
    for (const [start, length, time, toStart] of LOCKSMITH_TO_START) {
      const now = at(`${time}${suffix}`);
      const w = win(start, length);
      const label = `${start} ${length} at ${time} ${zone.name}`;
      assert.equal(msToWindowStart(w, now, zone), toStart, label);
      assert.equal(isInWindow(w, now, zone), toStart <= 0, label);
    }
  }
});

test('daily window: open, end, next start', () => {
  const w = win('04:00', '1h');
  assert.equal(isInWindow(w, at('2026-11-22T03:59:59Z'), UTC), false);
  assert.equal(isInWindow(w, at('2026-11-22T04:00:00Z'), UTC), true);
  assert.equal(isInWindow(w, at('2026-11-22T05:00:00Z'), UTC), true); // both ends inside, as locksmith
  assert.equal(isInWindow(w, at('2026-11-22T05:00:00.001Z'), UTC), false);
  assert.deepEqual(windowEnd(w, at('2026-11-22T04:30:00Z'), UTC), at('2026-11-22T05:00:00Z'));
  assert.equal(windowEnd(w, at('2026-11-22T06:00:00Z'), UTC), undefined);
  assert.deepEqual(nextWindowStart(w, at('2026-11-22T03:00:00Z'), UTC), at('2026-11-22T04:00:00Z'));
  // While open, the next start is tomorrow's.
  assert.deepEqual(nextWindowStart(w, at('2026-11-22T04:00:00Z'), UTC), at('2026-11-23T04:00:00Z'));
  assert.deepEqual(nextWindowStart(w, at('2026-11-22T06:00:00Z'), UTC), at('2026-11-23T04:00:00Z'));
});

test('a window that wraps past midnight', () => {
  const w = win('23:00', '2h');
  assert.deepEqual(currentWindow(w, at('2026-11-22T00:30:00Z'), UTC),
    { start: at('2026-11-21T23:00:00Z'), end: at('2026-11-22T01:00:00Z') });
  assert.equal(isInWindow(w, at('2026-11-22T01:00:01Z'), UTC), false);
  assert.equal(isInWindow(w, at('2026-11-22T22:59:59Z'), UTC), false);
  assert.equal(isInWindow(w, at('2026-11-22T23:00:00Z'), UTC), true);
  // At the end of a month and of a year.
  assert.equal(isInWindow(w, at('2026-12-01T00:59:00Z'), UTC), true);
  assert.equal(isInWindow(w, at('2027-01-01T00:59:00Z'), UTC), true);
});

test('weekly windows, including one that wraps past the end of the week', () => {
  // 22 November 2026 is a Sunday.
  const thu = win('Thu 04:00', '1h');
  assert.deepEqual(nextWindowStart(thu, at('2026-11-22T12:00:00Z'), UTC), at('2026-11-26T04:00:00Z'));
  assert.deepEqual(nextWindowStart(thu, at('2026-11-26T04:30:00Z'), UTC), at('2026-12-03T04:00:00Z'));
  assert.equal(isInWindow(thu, at('2026-11-26T04:30:00Z'), UTC), true);
  assert.equal(isInWindow(thu, at('2026-11-27T04:30:00Z'), UTC), false);

  const sat = win('Sat 23:00', '3h');
  assert.equal(isInWindow(sat, at('2026-11-21T22:59:59Z'), UTC), false);
  assert.equal(isInWindow(sat, at('2026-11-22T01:30:00Z'), UTC), true); // Sunday, next week
  assert.deepEqual(windowEnd(sat, at('2026-11-22T01:30:00Z'), UTC), at('2026-11-22T02:00:00Z'));
  assert.equal(isInWindow(sat, at('2026-11-22T02:00:01Z'), UTC), false);
  assert.deepEqual(nextWindowStart(sat, at('2026-11-22T02:00:01Z'), UTC), at('2026-11-28T23:00:00Z'));

  // A long weekly window: Fri 20:00 for 3 days reaches into Monday.
  const weekend = win('Fri 20:00', '72h');
  assert.equal(isInWindow(weekend, at('2026-11-23T19:59:59Z'), UTC), true);
  assert.equal(isInWindow(weekend, at('2026-11-23T20:00:01Z'), UTC), false);
});

test('local time across DST: starts follow the wall clock, lengths are elapsed time', () => {
  const berlin = ianaZone('Europe/Berlin');
  const four = win('04:00', '1h');
  assert.deepEqual(nextWindowStart(four, at('2026-03-27T12:00:00Z'), berlin), at('2026-03-28T03:00:00Z'));
  assert.deepEqual(nextWindowStart(four, at('2026-03-28T12:00:00Z'), berlin), at('2026-03-29T02:00:00Z'));
  assert.deepEqual(nextWindowStart(four, at('2026-10-24T12:00:00Z'), berlin), at('2026-10-25T03:00:00Z'));

  // 02:30 does not exist on 29 March 2026: that day's window opens at 03:30 CEST.
  const gap = win('02:30', '1h');
  assert.deepEqual(nextWindowStart(gap, at('2026-03-28T12:00:00Z'), berlin), at('2026-03-29T01:30:00Z'));
  assert.equal(isInWindow(gap, at('2026-03-29T01:00:00Z'), berlin), false);
  assert.equal(isInWindow(gap, at('2026-03-29T02:30:00Z'), berlin), true);
  assert.deepEqual(nextWindowStart(gap, at('2026-03-29T12:00:00Z'), berlin), at('2026-03-30T00:30:00Z'));

  // 02:30 happens twice on 25 October 2026: the window opens at the first.
  assert.deepEqual(nextWindowStart(gap, at('2026-10-24T12:00:00Z'), berlin), at('2026-10-25T00:30:00Z'));
  assert.equal(isInWindow(gap, at('2026-10-25T01:30:00Z'), berlin), true); // 02:30 CET, second one
  assert.equal(isInWindow(gap, at('2026-10-25T01:30:01Z'), berlin), false);

  // A window across the spring-forward jump lasts its length in real time: 01:00 + 3h → 05:00 CEST.
  const across = win('01:00', '3h');
  assert.deepEqual(currentWindow(across, at('2026-03-29T02:00:00Z'), berlin),
    { start: at('2026-03-29T00:00:00Z'), end: at('2026-03-29T03:00:00Z') });

  // Weekly, in Sydney where DST starts in October: Sun 02:30 on 4 October 2026 is 03:30 AEDT.
  const sydney = ianaZone('Australia/Sydney');
  assert.deepEqual(nextWindowStart(win('Sun 02:30', '1h'), at('2026-10-01T00:00:00Z'), sydney),
    at('2026-10-03T16:30:00Z'));
});

test('next window always lies within eight days', () => {
  const w = win('Wed 12:00', '10m');
  for (let day = 0; day < 14; day++) {
    const now = new Date(Date.parse('2026-11-01T12:05:00Z') + day * 24 * H);
    const next = nextWindow(w, now, UTC);
    assert.ok(next.start.getTime() > now.getTime());
    assert.ok(next.start.getTime() - now.getTime() <= 7 * 24 * H);
    assert.equal(next.start.getUTCDay(), 3);
  }
});
