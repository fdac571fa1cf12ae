import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decideReboot,
  describeRebootAction,
  usesLock,
  REBOOT_STRATEGIES,
  type RebootAction,
  type RebootSituation,
  type RebootStrategy,
} from '../../../../agent/core/schedule/strategy.js';
import { UTC } from '../../../../agent/core/schedule/timezone.js';
import { parseWindow } from '../../../../agent/core/schedule/window.js';

const parsed = parseWindow('Thu 04:00', '1h');
assert.ok(parsed.ok);
const window = parsed.value;
const inside = new Date('2026-11-26T04:10:00Z'); // a Thursday
const outside = new Date('2026-11-22T12:00:00Z');
const windowEnd = new Date('2026-11-26T05:00:00Z');
const nextStart = new Date('2026-11-26T04:00:00Z');

type Case = [string, Partial<RebootSituation> & { strategy: RebootStrategy }, RebootAction];

const base = { zone: UTC, now: inside, rebootNeeded: false, lockHeld: false, bootMarkedGood: true };

const CASES: Case[] = [
  // Nothing staged.
  ...REBOOT_STRATEGIES.map((strategy): Case => [`${strategy}, nothing staged`, { strategy }, { kind: 'idle' }]),
  ['reboot, staged, no window', { strategy: 'reboot', rebootNeeded: true }, { kind: 'reboot' }],
  ['reboot, staged, in window', { strategy: 'reboot', rebootNeeded: true, window },
    { kind: 'reboot', deadline: windowEnd }],
  ['reboot, staged, outside window', { strategy: 'reboot', rebootNeeded: true, window, now: outside },
    { kind: 'wait-window', until: nextStart }],
  ['off, staged', { strategy: 'off', rebootNeeded: true }, { kind: 'report-reboot-needed' }],
  ['off, staged, in window', { strategy: 'off', rebootNeeded: true, window }, { kind: 'report-reboot-needed' }],
  ...(['etcd-lock', 'fleetlock'] as const).flatMap((strategy): Case[] => [
    [`${strategy}, staged, no window`, { strategy, rebootNeeded: true }, { kind: 'acquire-lock' }],
    [`${strategy}, staged, in window`, { strategy, rebootNeeded: true, window },
      { kind: 'acquire-lock', deadline: windowEnd }],
    [`${strategy}, staged, outside window: no lock taken`, { strategy, rebootNeeded: true, window, now: outside },
      { kind: 'wait-window', until: nextStart }],
    [`${strategy}, staged, lock held, in window`, { strategy, rebootNeeded: true, lockHeld: true, window },
      { kind: 'reboot', deadline: windowEnd }],
    [`${strategy}, staged, lock held, no window`, { strategy, rebootNeeded: true, lockHeld: true },
      { kind: 'reboot' }],
    [`${strategy}, staged, lock held, window closed before the reboot`,
      { strategy, rebootNeeded: true, lockHeld: true, window, now: outside },
      { kind: 'release-lock', reason: 'window-closed' }],
    [`${strategy}, rebooted, boot not yet good: keep the slot`,
      { strategy, lockHeld: true, bootMarkedGood: false, window, now: outside }, { kind: 'wait-boot-good' }],
    [`${strategy}, rebooted, boot good: release, even outside the window`,
      { strategy, lockHeld: true, bootMarkedGood: true, window, now: outside },
      { kind: 'release-lock', reason: 'rebooted' }],
  ]),
  ['strategy changed to off while holding a slot', { strategy: 'off', rebootNeeded: true, lockHeld: true },
    { kind: 'release-lock', reason: 'strategy-changed' }],
  ['strategy changed to reboot while holding a slot', { strategy: 'reboot', rebootNeeded: true, lockHeld: true, window },
    { kind: 'release-lock', reason: 'strategy-changed' }],
  ['found holding a slot on start with a good boot (strategy off now)', { strategy: 'off', lockHeld: true },
    { kind: 'release-lock', reason: 'rebooted' }],
];

test('reboot decisions', () => {
  for (const [label, situation, expected] of CASES) {
    assert.deepEqual(decideReboot({ ...base, ...situation }), expected, label);
  }
});

test('the reboot itself only ever happens inside the window and, for lock strategies, with the slot', () => {
  const nows = [inside, outside, windowEnd, new Date(windowEnd.getTime() + 1), nextStart];
  for (const strategy of REBOOT_STRATEGIES) {
    for (const now of nows) {
      for (const lockHeld of [false, true]) {
        for (const bootMarkedGood of [false, true]) {
          const action = decideReboot({ ...base, strategy, now, window, rebootNeeded: true, lockHeld, bootMarkedGood });
          if (action.kind !== 'reboot' && action.kind !== 'acquire-lock') continue;
          assert.ok(now >= nextStart && now <= windowEnd, `${strategy} ${action.kind} at ${now.toISOString()}`);
          if (action.kind === 'reboot' && usesLock(strategy)) assert.ok(lockHeld);
          assert.notEqual(strategy, 'off');
        }
      }
    }
  }
});

test('every action has a status line', () => {
  const lines = new Set(CASES.map(([, , action]) => describeRebootAction(action)));
  for (const line of lines) assert.ok(line.length > 10, line);
  assert.equal(describeRebootAction({ kind: 'wait-window', until: nextStart }),
    'reboot needed, waiting for the maintenance window at 2026-11-26T04:00:00.000Z');
  assert.equal(describeRebootAction({ kind: 'report-reboot-needed' }),
    'reboot needed (reboot-strategy is off: reboot by hand)');
});
