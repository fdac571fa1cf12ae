import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import {
  TRANSITIONS,
  UPDATE_STATES,
  checkFailed,
  checkStarted,
  downloadFailed,
  downloadFinished,
  downloadProgressed,
  downloadStarted,
  errorReported,
  failed,
  finalized,
  initialState,
  isBusy,
  noUpdateFound,
  reset,
  restoredStaged,
  updateFound,
  verified,
  type StateOf,
  type TransitionName,
  type UpdateState,
  type UpdateStateKind,
} from '../../../../agent/core/update/machine.js';
import type { Release } from '../../../../agent/core/update/release.js';

const release: Release = {
  version: '2.0.0',
  expires: '2099-01-01T00:00:00Z',
  payload: { url: 'http://127.0.0.1/p.img', size: 1000, sha512: 'a'.repeat(128), compression: 'none' },
};
const err = { code: 'update.download-failed', message: 'connection reset' };
const base = { lastChecked: 5000, failures: 1 };

/** One example of every state. */
const sample: { [K in UpdateStateKind]: StateOf<K> } = {
  IDLE: { ...base, kind: 'IDLE' },
  CHECKING_FOR_UPDATE: { ...base, kind: 'CHECKING_FOR_UPDATE', attempt: 1 },
  UPDATE_AVAILABLE: { ...base, kind: 'UPDATE_AVAILABLE', release },
  DOWNLOADING: { ...base, kind: 'DOWNLOADING', release, target: 'B', bytesDone: 10, resumedFrom: 0, attempt: 1 },
  VERIFYING: { ...base, kind: 'VERIFYING', release, target: 'B' },
  FINALIZING: { ...base, kind: 'FINALIZING', release, target: 'B' },
  UPDATED_NEED_REBOOT: { ...base, kind: 'UPDATED_NEED_REBOOT', release, target: 'B' },
  REPORTING_ERROR_EVENT: { ...base, kind: 'REPORTING_ERROR_EVENT', error: err, during: 'DOWNLOADING', release },
};

const apply: Record<TransitionName, (s: UpdateState) => UpdateState> = {
  checkStarted,
  checkFailed: (s) => checkFailed(s, err),
  noUpdateFound: (s) => noUpdateFound(s, 9000),
  updateFound: (s) => updateFound(s, release, 9000),
  downloadStarted: (s) => downloadStarted(s, 'B', 0),
  downloadProgressed: (s) => downloadProgressed(s, 500),
  downloadFailed: (s) => downloadFailed(s, err, 400),
  downloadFinished,
  verified,
  finalized,
  failed: (s) => failed(s, err),
  errorReported,
  reset,
  restoredStaged: (s) => restoredStaged(s, release, 'B'),
};

test('every transition refuses every state it does not start from, and leads only where declared', () => {
  for (const [name, fn] of Object.entries(apply) as Array<[TransitionName, (s: UpdateState) => UpdateState]>) {
    const { from, to } = TRANSITIONS[name];
    for (const kind of UPDATE_STATES) {
      if ((from as readonly string[]).includes(kind)) {
        const next = fn(sample[kind]);
        assert.ok((to as readonly string[]).includes(next.kind), `${name} from ${kind} led to ${next.kind}`);
      } else {
        assert.throws(() => fn(sample[kind]), { code: 'update.bad-transition' }, `${name} from ${kind}`);
      }
    }
  }
});

test('checkStarted: IDLE or UPDATE_AVAILABLE → CHECKING_FOR_UPDATE, first attempt', () => {
  assert.deepEqual(checkStarted(initialState), { kind: 'CHECKING_FOR_UPDATE', attempt: 1, lastChecked: 0, failures: 0 });
  assert.deepEqual(checkStarted(sample.UPDATE_AVAILABLE), { kind: 'CHECKING_FOR_UPDATE', attempt: 1, ...base });
});

test('checkFailed: retries inside the state, then reports', () => {
  let s = checkStarted(initialState);
  s = checkFailed(s, err);
  assert.deepEqual([s.kind, (s as StateOf<'CHECKING_FOR_UPDATE'>).attempt], ['CHECKING_FOR_UPDATE', 2]);
  s = checkFailed(s, err);
  assert.equal((s as StateOf<'CHECKING_FOR_UPDATE'>).attempt, 3);
  s = checkFailed(s, err);
  assert.equal(s.kind, 'REPORTING_ERROR_EVENT');
  assert.deepEqual((s as StateOf<'REPORTING_ERROR_EVENT'>).error, err);
  assert.equal((s as StateOf<'REPORTING_ERROR_EVENT'>).during, 'CHECKING_FOR_UPDATE');
  assert.equal(s.failures, 1);
});

test('noUpdateFound: back to IDLE with the check time, failures cleared', () => {
  assert.deepEqual(noUpdateFound(sample.CHECKING_FOR_UPDATE, 9000), { kind: 'IDLE', lastChecked: 9000, failures: 0 });
});

test('updateFound: carries the release and the check time', () => {
  const s = updateFound(sample.CHECKING_FOR_UPDATE, release, 9000);
  assert.deepEqual(s, { kind: 'UPDATE_AVAILABLE', release, lastChecked: 9000, failures: 1 });
});

test('downloadStarted: target slot, resumed bytes count as done', () => {
  const s = downloadStarted(sample.UPDATE_AVAILABLE, 'A', 300) as StateOf<'DOWNLOADING'>;
  assert.deepEqual([s.kind, s.target, s.bytesDone, s.resumedFrom, s.attempt], ['DOWNLOADING', 'A', 300, 300, 1]);
});

test('downloadProgressed: bytes done, never past the size', () => {
  assert.equal((downloadProgressed(sample.DOWNLOADING, 500) as StateOf<'DOWNLOADING'>).bytesDone, 500);
  assert.equal((downloadProgressed(sample.DOWNLOADING, 5000) as StateOf<'DOWNLOADING'>).bytesDone, 1000);
});

test('downloadFailed: resumes from the verified bytes while attempts are left, then reports', () => {
  let s = downloadFailed(sample.DOWNLOADING, err, 400) as StateOf<'DOWNLOADING'>;
  assert.deepEqual([s.kind, s.attempt, s.bytesDone, s.resumedFrom], ['DOWNLOADING', 2, 400, 400]);
  s = downloadFailed(s, err, 600) as StateOf<'DOWNLOADING'>;
  assert.equal(s.attempt, 3);
  const r = downloadFailed(s, err, 600) as StateOf<'REPORTING_ERROR_EVENT'>;
  assert.deepEqual([r.kind, r.during, r.release, r.failures], ['REPORTING_ERROR_EVENT', 'DOWNLOADING', release, 2]);
});

test('downloadFinished → VERIFYING → verified → FINALIZING → finalized → UPDATED_NEED_REBOOT', () => {
  const v = downloadFinished(sample.DOWNLOADING);
  assert.deepEqual(v, { kind: 'VERIFYING', release, target: 'B', ...base });
  const f = verified(v);
  assert.deepEqual(f, { kind: 'FINALIZING', release, target: 'B', ...base });
  const done = finalized(f);
  assert.deepEqual(done, { kind: 'UPDATED_NEED_REBOOT', release, target: 'B', lastChecked: 5000, failures: 0 });
  assert.equal(isBusy(done), false);
  assert.equal(isBusy(f), true);
});

test('failed: from any working state, counting failures and keeping the release', () => {
  const r = failed(sample.VERIFYING, err) as StateOf<'REPORTING_ERROR_EVENT'>;
  assert.deepEqual(r, { kind: 'REPORTING_ERROR_EVENT', error: err, during: 'VERIFYING', release, lastChecked: 5000, failures: 2 });
  assert.equal('release' in failed(sample.CHECKING_FOR_UPDATE, err), false);
});

test('errorReported: back to IDLE, failures kept for back-off', () => {
  assert.deepEqual(errorReported(sample.REPORTING_ERROR_EVENT), { kind: 'IDLE', lastChecked: 5000, failures: 1 });
});

test('reset: a staged update is forgotten', () => {
  assert.deepEqual(reset(sample.UPDATED_NEED_REBOOT), { kind: 'IDLE', lastChecked: 5000, failures: 1 });
});

test('restoredStaged: an agent that starts with a release staged is waiting for the reboot', () => {
  assert.deepEqual(restoredStaged(sample.IDLE, release, 'A'), { kind: 'UPDATED_NEED_REBOOT', lastChecked: 5000, failures: 1, release, target: 'A' });
});

test('docs/update-fsm.dot draws exactly the declared transitions', async () => {
  const dot = await readFile(new URL('../../../../docs/update-fsm.dot', import.meta.url), 'utf8');
  const drawn = new Set([...dot.matchAll(/(\w+) -> (\w+) \[label="(\w+)/g)].map((m) => `${m[3]}: ${m[1]} -> ${m[2]}`));
  const declared = new Set<string>();
  for (const [name, { from, to }] of Object.entries(TRANSITIONS)) {
    for (const f of from) for (const t of to) declared.add(`${name}: ${f} -> ${t}`);
  }
  assert.deepEqual([...drawn].sort(), [...declared].sort());
});
