import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ianaZone, LOCAL, UTC, wallToInstant, zoneFor } from '../../../../agent/core/schedule/timezone.js';

const H = 3_600_000;
const wall = (iso: string) => Date.parse(`${iso}Z`);

test('UTC has no offset; zoneFor picks UTC or the process zone', () => {
  assert.equal(UTC.offsetMs(Date.parse('2026-06-01T00:00:00Z')), 0);
  assert.equal(zoneFor('utc'), UTC);
  assert.equal(zoneFor('local'), LOCAL);
  const t = Date.parse('2026-06-01T12:00:00Z');
  assert.equal(LOCAL.offsetMs(t), -new Date(t).getTimezoneOffset() * 60_000);
});

test('IANA zones give the offset in force at an instant, DST included', () => {
  const berlin = ianaZone('Europe/Berlin');
  assert.equal(berlin.offsetMs(Date.parse('2026-01-15T12:00:00Z')), H);
  assert.equal(berlin.offsetMs(Date.parse('2026-07-15T12:00:00Z')), 2 * H);
  // Spring forward at 01:00Z on 29 March 2026, fall back at 01:00Z on 25 October 2026.
  assert.equal(berlin.offsetMs(Date.parse('2026-03-29T00:59:59Z')), H);
  assert.equal(berlin.offsetMs(Date.parse('2026-03-29T01:00:00Z')), 2 * H);
  assert.equal(berlin.offsetMs(Date.parse('2026-10-25T00:59:59.500Z')), 2 * H);
  assert.equal(berlin.offsetMs(Date.parse('2026-10-25T01:00:00Z')), H);
  assert.equal(ianaZone('America/Los_Angeles').offsetMs(Date.parse('2015-05-21T07:00:00Z')), -7 * H);
  assert.throws(() => ianaZone('Mars/Olympus_Mons'), RangeError);
});

test('wall time to instant: plain, in the DST gap (moved forward), in the DST overlap (first)', () => {
  const berlin = ianaZone('Europe/Berlin');
  assert.equal(wallToInstant(UTC, wall('2026-03-29T02:30:00')), Date.parse('2026-03-29T02:30:00Z'));
  assert.equal(wallToInstant(berlin, wall('2026-03-28T02:30:00')), Date.parse('2026-03-28T01:30:00Z'));
  // 02:30 does not exist on 29 March: 03:30 CEST.
  assert.equal(wallToInstant(berlin, wall('2026-03-29T02:30:00')), Date.parse('2026-03-29T01:30:00Z'));
  assert.equal(wallToInstant(berlin, wall('2026-03-29T03:00:00')), Date.parse('2026-03-29T01:00:00Z'));
  // 02:30 happens twice on 25 October: the first, 02:30 CEST.
  assert.equal(wallToInstant(berlin, wall('2026-10-25T02:30:00')), Date.parse('2026-10-25T00:30:00Z'));
  assert.equal(wallToInstant(berlin, wall('2026-10-25T03:00:00')), Date.parse('2026-10-25T02:00:00Z'));
  // Southern hemisphere: Sydney springs forward at 02:00 on 4 October 2026.
  const sydney = ianaZone('Australia/Sydney');
  assert.equal(wallToInstant(sydney, wall('2026-10-04T02:30:00')), Date.parse('2026-10-03T16:30:00Z'));
});
