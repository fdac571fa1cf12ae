import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  formatWindowStart,
  parseGoDuration,
  parseWindow,
  parseWindowStart,
  DURATION_FORMS,
  WINDOW_START_FORMS,
} from '../../../../agent/core/schedule/window.js';

const H = 3_600_000;
const M = 60_000;
const S = 1000;

test('window starts accepted, as locksmith reads them', () => {
  const cases: Array<[string, { weekday?: number; hour: number; minute: number }]> = [
    ['14:00', { hour: 14, minute: 0 }],
    ['00:00', { hour: 0, minute: 0 }],
    ['23:59', { hour: 23, minute: 59 }],
    ['9:00', { hour: 9, minute: 0 }],
    ['4:5', { hour: 4, minute: 5 }],
    ['004:005', { hour: 4, minute: 5 }],
    ['Thu 04:00', { weekday: 4, hour: 4, minute: 0 }],
    ['sun 00:15', { weekday: 0, hour: 0, minute: 15 }],
    ['SAT 23:05', { weekday: 6, hour: 23, minute: 5 }],
    ['Mon 9:00', { weekday: 1, hour: 9, minute: 0 }],
    ['  Fri   12:30 ', { weekday: 5, hour: 12, minute: 30 }],
  ];
  for (const [text, value] of cases) assert.deepEqual(parseWindowStart(text), { ok: true, value }, text);
});

test('window starts rejected: every form locksmith rejects, and more', () => {
  const cases: Array<[string, string]> = [
    // locksmith's own rejected cases (pkg/timeutil tests)
    ['25:00', 'the hour must be 0-23'],
    ['23:61', 'the minute must be 0-59'],
    ['14', '"14" is not a time of day'],
    ['foo 14:00', '"foo" is not a day of the week'],
    ['sat 14:00 1234', 'wrong number of fields'],
    ['sat', '"sat" is not a time of day'],
    // and others of the same kinds
    ['', 'wrong number of fields'],
    ['   ', 'wrong number of fields'],
    ['24:00', 'the hour must be 0-23'],
    ['Thursday 04:00', '"Thursday" is not a day of the week'],
    ['04:00 Thu', '"04:00" is not a day of the week'],
    ['-1:00', '"-1:00" is not a time of day'],
    ['4:00pm', '"4:00pm" is not a time of day'],
    ['04-00', '"04-00" is not a time of day'],
    ['04:00:00', '"04:00:00" is not a time of day'],
    ['100:00', 'the hour must be 0-23'],
    ['12:060', 'the minute must be 0-59'],
  ];
  for (const [text, why] of cases) {
    const result = parseWindowStart(text);
    assert.equal(result.ok, false, text);
    if (result.ok) continue;
    assert.equal(result.problem, `invalid window start "${text}": ${why}; ${WINDOW_START_FORMS}`);
  }
  assert.match(WINDOW_START_FORMS, /"HH:MM".*"Day HH:MM".*Sun, Mon, Tue, Wed, Thu, Fri, Sat/);
});

test('Go durations accepted', () => {
  const cases: Array<[string, number]> = [
    ['1h', H],
    ['1h30m', H + 30 * M],
    ['90m', 90 * M],
    ['45s', 45 * S],
    ['1.5h', 1.5 * H],
    ['.5h', 0.5 * H],
    ['1.h', H],
    ['2h45m30s', 2 * H + 45 * M + 30 * S],
    ['10s', 10 * S],
    ['300ms', 300],
    ['1500us', 1.5],
    ['1500\u00b5s', 1.5],
    ['1500\u03bcs', 1.5],
    ['2000000ns', 2],
    ['0', 0],
    ['+0', 0],
    ['-0', 0],
    ['+5m', 5 * M],
    ['-1h', -H],
    ['1h1h', 2 * H],
  ];
  for (const [text, ms] of cases) assert.deepEqual(parseGoDuration(text), { ok: true, value: ms }, text);
});

test('Go durations rejected, naming the accepted forms', () => {
  const cases: Array<[string, string]> = [
    ['', 'it is empty'],
    ['-', 'it is empty'],
    ['1', 'a unit is missing'],
    ['1h30', 'a unit is missing'],
    ['1j', 'unknown unit "j"'],
    ['1H', 'unknown unit "H"'],
    ['1d', 'unknown unit "d"'],
    ['1 h', 'unknown unit " h"'],
    ['h', 'a number is missing'],
    ['.h', 'a number is missing'],
    [' 1h', 'a number is missing'],
    ['1.5.5h', 'a unit is missing'],
    ['--1h', 'a number is missing'],
    ['9999999999h', 'it is out of range'],
  ];
  for (const [text, why] of cases) {
    const result = parseGoDuration(text);
    assert.equal(result.ok, false, text);
    if (result.ok) continue;
    assert.equal(result.problem, `invalid duration "${text}": ${why}; ${DURATION_FORMS}`);
  }
  assert.match(DURATION_FORMS, /"1h", "1h30m", "90m", "45s"/);
});

test('whole windows: locksmith rejects bad durations, negative ones and lengths of a whole period', () => {
  assert.deepEqual(parseWindow('14:00', '1h'), { ok: true, value: { start: { hour: 14, minute: 0 }, lengthMs: H } });
  assert.deepEqual(parseWindow('Sun 00:00', '167h59m'),
    { ok: true, value: { start: { weekday: 0, hour: 0, minute: 0 }, lengthMs: 167 * H + 59 * M } });
  assert.deepEqual(parseWindow('23:00', '23h59m59s'),
    { ok: true, value: { start: { hour: 23, minute: 0 }, lengthMs: 24 * H - S } });
  const rejected: Array<[string, string, RegExp]> = [
    ['sat 14:00', '1j', /^invalid duration "1j": unknown unit/],
    ['sat 14:00', '-1h', /^invalid window length "-1h": it must be greater than zero/],
    ['14:00', '24h', /^invalid window length "24h": it must be shorter than a day \(the start names no day\)/],
    ['14:00', '25h', /shorter than a day/],
    ['Sun 00:00', '168h', /^invalid window length "168h": it must be shorter than a week/],
    ['sat', '1h', /^invalid window start "sat"/],
    // A window of length zero never opens: refused (locksmith accepted it).
    ['14:00', '0', /^invalid window length "0": it must be greater than zero, a window of length zero never opens/],
    ['14:00', '0s', /never opens/],
  ];
  for (const [start, length, problem] of rejected) {
    const result = parseWindow(start, length);
    assert.equal(result.ok, false, `${start} ${length}`);
    if (!result.ok) assert.match(result.problem, problem);
  }
});

test('window starts print as written in config', () => {
  assert.equal(formatWindowStart({ hour: 4, minute: 5 }), '04:05');
  assert.equal(formatWindowStart({ weekday: 4, hour: 23, minute: 0 }), 'Thu 23:00');
});
