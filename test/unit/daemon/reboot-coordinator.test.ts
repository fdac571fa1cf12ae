/**
 * The reboot coordinator's pure parts (settings from the configuration, the window slice,
 * pauses) and its ordering rules with an in-memory lock and an injected reboot function:
 * release when the window closes before the reboot, when the strategy changes, and at start
 * for a slot held from before the reboot; a postponed reboot is asked again. The real
 * backends and the fleet are tested in test/integration/reboot.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { RebootStatus } from '../../../agent/api/agent1.js';
import type { HostConfig } from '../../../agent/core/config/types.js';
import { UTC } from '../../../agent/core/schedule/timezone.js';
import { parseWindow } from '../../../agent/core/schedule/window.js';
import {
  pauseAfter, RebootCoordinator, rebootSettingsFrom, windowStatus, type RebootSettings,
} from '../../../agent/daemon/reboot-coordinator.js';
import type { AcquireResult, LockStatus, RebootLock } from '../../../agent/host/lock/types.js';
import { createLogger } from '../../../agent/host/log/logger.js';
import type { RebootOutcome } from '../../../agent/host/reboot/reboot.js';
import { tmpdir } from '../../lib/tmpdir.js';

const ID = 'a'.repeat(32);

function window(start: string, length: string): NonNullable<RebootSettings['window']> {
  const parsed = parseWindow(start, length);
  assert.ok(parsed.ok);
  return { start, length, window: parsed.value };
}

test('settings from coreos.update and coreos.locksmith', () => {
  const config = (update: HostConfig['update'], locksmith: HostConfig['locksmith']) => ({ update, locksmith });
  assert.deepEqual(rebootSettingsFrom(config({}, {})), { strategy: 'reboot', lock: {} }, 'best-effort without a lock endpoint');
  assert.equal(rebootSettingsFrom(config({}, { endpoint: 'http://etcd:2379' })).strategy, 'etcd-lock', 'best-effort with one');
  const w = window('Thu 04:00', '1h');
  assert.deepEqual(rebootSettingsFrom(config({ rebootStrategy: 'fleetlock' }, {
    endpoint: 'https://lock', group: 'web', window: w, etcdCaFile: '/ca', etcdKeyFile: '/key', etcdUsername: 'u', etcdPassword: 'p',
  })), {
    strategy: 'fleetlock',
    window: w,
    lock: { endpoint: 'https://lock', group: 'web', tls: { caFile: '/ca', keyFile: '/key' }, username: 'u', password: 'p' },
  });
});

test('the window slice: open with its end, or closed with the next start', () => {
  const w = window('Sat 23:00', '3h');
  assert.deepEqual(windowStatus(w, new Date('2026-01-04T01:00:00Z'), UTC), {
    start: 'Sat 23:00', length: '3h', zone: 'UTC', open: true, end: '2026-01-04T02:00:00.000Z', nextStart: '2026-01-10T23:00:00.000Z',
  });
  assert.deepEqual(windowStatus(w, new Date('2026-01-04T02:00:01Z'), UTC), {
    start: 'Sat 23:00', length: '3h', zone: 'UTC', open: false, nextStart: '2026-01-10T23:00:00.000Z',
  });
});

test('pauses: until the window (at most a poll), none before lock work, a poll otherwise', () => {
  const now = new Date('2026-01-01T00:00:00Z');
  assert.equal(pauseAfter({ kind: 'wait-window', until: new Date('2026-01-01T00:00:05Z') }, now, 60_000), 5000);
  assert.equal(pauseAfter({ kind: 'wait-window', until: new Date('2026-01-02T00:00:00Z') }, now, 60_000), 60_000);
  assert.equal(pauseAfter({ kind: 'acquire-lock' }, now, 60_000), 0);
  assert.equal(pauseAfter({ kind: 'release-lock', reason: 'rebooted' }, now, 60_000), 0);
  assert.equal(pauseAfter({ kind: 'idle' }, now, 60_000), 60_000);
  assert.equal(pauseAfter({ kind: 'wait-boot-good' }, now, 60_000), 60_000);
});

/** One slot, in memory. */
class MemoryLock implements RebootLock {
  readonly backend = 'etcd-lock' as const;
  holder: string | undefined;
  log: string[] = [];
  async acquire(): Promise<AcquireResult> {
    this.log.push('acquire');
    if (this.holder && this.holder !== ID) return { acquired: false, reason: `held by ${this.holder}` };
    this.holder = ID;
    return { acquired: true };
  }
  async release(): Promise<void> {
    this.log.push('release');
    if (this.holder === ID) this.holder = undefined;
  }
  async status(): Promise<LockStatus> {
    return { backend: this.backend, id: ID, group: undefined, held: this.holder === ID };
  }
}

interface Rig {
  coordinator: RebootCoordinator;
  lock: MemoryLock;
  reboots: string[];
  state: { rebootNeeded: boolean; good: boolean; now: Date };
  until(pred: (s: RebootStatus) => boolean): Promise<RebootStatus>;
}

async function rig(t: { after(fn: () => unknown): void }, settings: RebootSettings, reboot: () => RebootOutcome): Promise<Rig> {
  const dir = await tmpdir(t);
  await writeFile(join(dir, 'machine-id'), `${ID}\n`);
  const lock = new MemoryLock();
  const reboots: string[] = [];
  const state = { rebootNeeded: true, good: true, now: new Date('2026-01-01T04:30:00Z') };
  const waiters: Array<() => void> = [];
  let last: RebootStatus | undefined;
  const coordinator = new RebootCoordinator({
    settings,
    rebootNeeded: async () => state.rebootNeeded,
    bootMarkedGood: async () => state.good,
    reboot: async (reason) => {
      reboots.push(reason);
      return reboot();
    },
    log: createLogger('json', 'error', new Writable({ write: (_c, _e, done) => done() })),
    onStatus: (s) => {
      last = s;
      for (const w of waiters) w();
    },
    machineIdPath: join(dir, 'machine-id'),
    heldPath: join(dir, 'held.json'),
    openLock: () => lock,
    zone: UTC,
    now: () => state.now,
    pollMs: 20,
    lockPollMs: 5,
    postponedMs: 10,
  });
  t.after(() => coordinator.stop());
  const until = (pred: (s: RebootStatus) => boolean) => new Promise<RebootStatus>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out; last ${JSON.stringify(last)}`)), 5000);
    const check = () => {
      if (last && pred(last)) {
        clearTimeout(timer);
        resolve(last);
      }
    };
    waiters.push(check);
    check();
  });
  return { coordinator, lock, reboots, state, until };
}

test('a reboot postponed by an inhibitor is asked again; when the window closes first, the slot is released', async (t) => {
  const r = await rig(t, { strategy: 'etcd-lock', window: window('04:00', '1h'), lock: {} },
    () => ({ kind: 'postponed', reason: 'a shutdown inhibitor is held by backup (pid 9: copying, block)' }));
  r.coordinator.start();
  const postponed = await r.until((s) => s.action === 'reboot-postponed');
  assert.equal(postponed.postponed, 'a shutdown inhibitor is held by backup (pid 9: copying, block)');
  assert.equal(r.lock.holder, ID);
  await r.until(() => r.reboots.length >= 2);

  r.state.now = new Date('2026-01-01T05:00:01Z'); // the window closed
  const after = await r.until((s) => s.action === 'wait-window');
  assert.equal(r.lock.holder, undefined, 'released when the window closed');
  assert.equal(after.lock?.held, false);
  assert.equal(after.postponed, undefined);
  assert.equal(r.lock.log.at(-1), 'release');
});

test('changing the strategy to off while holding a slot releases it', async (t) => {
  const r = await rig(t, { strategy: 'etcd-lock', lock: {} }, () => ({ kind: 'postponed', reason: 'inhibited' }));
  r.coordinator.start();
  await r.until((s) => s.action === 'reboot-postponed');
  r.coordinator.setSettings({ strategy: 'off', lock: {} });
  await r.until((s) => s.action === 'report-reboot-needed');
  assert.equal(r.lock.holder, undefined);
});

test('at start, a slot held from before the reboot is kept until the boot is good, then released', async (t) => {
  const r = await rig(t, { strategy: 'etcd-lock', lock: {} }, () => assert.fail('no reboot'));
  r.lock.holder = ID;
  r.state.rebootNeeded = false;
  r.state.good = false;
  r.coordinator.start();
  const waiting = await r.until((s) => s.action === 'wait-boot-good');
  assert.equal(waiting.lock?.held, true);
  r.state.good = true;
  r.coordinator.poke();
  await r.until((s) => s.action === 'idle' && s.lock?.held === false);
  assert.equal(r.lock.holder, undefined);
  assert.deepEqual(r.reboots, []);
});

test('strategy reboot reboots without a lock; the rebooting status stays', async (t) => {
  const r = await rig(t, { strategy: 'reboot', lock: {} }, () => ({ kind: 'rebooting', via: 'logind' }));
  r.coordinator.start();
  const s = await r.until((s) => s.action === 'rebooting');
  assert.equal(s.message, 'rebooting through logind');
  assert.equal(s.lock, undefined);
  assert.deepEqual(r.lock.log, []);
  assert.equal(r.reboots.length, 1);
});
