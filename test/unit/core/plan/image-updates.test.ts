/**
 * The decisions of container image auto-update: SemVer precedence, what counts as newer,
 * failed images never retried, the window, the record's transitions and their guards, the
 * output kept with a rollback (bounded), the latest rollback, and the settle check.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  activate, boundOutput, confirm, decideUpdate, isNewerVersion, latestRollback, recordFor, rollBack, settleProblem, stage, windowOpen,
  ROLLBACK_OUTPUT_BYTES, ROLLBACK_OUTPUT_LINES, type ImageUpdateRecord,
} from '../../../../agent/core/plan/image-updates.js';
import { compareSemVer, parseSemVer, type SemVer } from '../../../../agent/core/appc/semver.js';
import { parseWindow } from '../../../../agent/core/schedule/window.js';
import { UTC } from '../../../../agent/core/schedule/timezone.js';
import { isAgentError } from '../../../../agent/core/errors.js';

const id = (n: number): string => `sha512-${String(n).repeat(128).slice(0, 128)}`;
const V1 = { id: id(1), version: '1.0.0' };
const V2 = { id: id(2), version: '2.0.0' };
const V3 = { id: id(3), version: '3.0.0' };
const AT = '2026-01-01T00:00:00.000Z';
const sv = (s: string): SemVer => parseSemVer(s) as SemVer;

test('SemVer precedence follows semver.org (pre-releases lower, numeric identifiers numerically, metadata ignored)', () => {
  const ordered = ['1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0', '1.0.1', '1.2.0', '2.0.0'];
  for (let i = 0; i + 1 < ordered.length; i++) {
    assert.ok(compareSemVer(sv(ordered[i]!), sv(ordered[i + 1]!)) < 0, `${ordered[i]} < ${ordered[i + 1]}`);
    assert.ok(compareSemVer(sv(ordered[i + 1]!), sv(ordered[i]!)) > 0, `${ordered[i + 1]} > ${ordered[i]}`);
  }
  assert.equal(compareSemVer(sv('1.0.0+build.1'), sv('1.0.0+build.2')), 0);
});

test('newer: a higher SemVer, or latest; not a lower, equal or unparsable one', () => {
  const cases: Array<[string | undefined, string | undefined, boolean]> = [
    ['1.0.0', '1.0.1', true],
    ['1.0.0', '2.0.0', true],
    ['1.9.0', '1.10.0', true],
    ['2.0.0', '1.0.0', false],
    ['1.0.0', '1.0.0', false],
    ['1.0.0', '1.0.0+rebuild', false],
    ['1.0.0-rc.1', '1.0.0', true],
    ['1.0.0', '1.0.0-rc.1', false],
    ['1.0.0', 'latest', true],
    ['latest', 'latest', true],
    ['latest', '1.0.0', true],
    [undefined, '1.0.0', true],
    ['1.0.0', 'nightly', false],
    ['1.0.0', undefined, false],
  ];
  for (const [current, candidate, newer] of cases) assert.equal(isNewerVersion(current, candidate), newer, `${current} → ${candidate}`);
});

test('decideUpdate: same image, already staged, failed before, older, newer', () => {
  const r = recordFor(undefined, 'example.com/web:1.0.0');
  assert.deepEqual(decideUpdate(r, V1, V2), { kind: 'stage', image: V2 });
  assert.equal(decideUpdate(r, V1, V1).kind, 'none');
  assert.equal(decideUpdate({ ...r, current: V2 }, V1, V1).kind, 'none', 'older than the pinned image');
  assert.equal(decideUpdate({ ...r, staged: V2 }, V1, V2).kind, 'none');
  const failed = { ...r, current: V2, failed: [{ ...V3, reason: 'the unit failed', at: AT }] };
  const d = decideUpdate(failed, V2, V3);
  assert.equal(d.kind, 'none');
  assert.equal(d.kind === 'none' && d.result, 'skipped');
  assert.match(d.kind === 'none' ? d.message : '', /not retried/);
  assert.deepEqual(decideUpdate(r, V1, { id: id(4), version: 'latest' }), { kind: 'stage', image: { id: id(4), version: 'latest' } });
});

test('decideUpdate following a tag (OCI registry mode): another digest under the same tag is the update; a failed one is not retried', () => {
  const r = recordFor(undefined, 'docker://quay.io/team/web:stable');
  const stable = (n: number) => ({ id: id(n), version: 'stable' });
  assert.equal(decideUpdate(r, stable(1), stable(2)).kind, 'none', 'without followsTag a tag is not a newer version');
  assert.deepEqual(decideUpdate(r, stable(1), stable(2), true), { kind: 'stage', image: stable(2) });
  assert.equal(decideUpdate(r, stable(1), stable(1), true).kind, 'none');
  assert.equal(decideUpdate({ ...r, failed: [{ ...stable(2), reason: 'x', at: AT }] }, stable(1), stable(2), true).kind, 'none');
});

test('a record follows one declaration; a new one keeps only the failed IDs', () => {
  const r: ImageUpdateRecord = { declared: 'a:1.0.0', current: V2, previous: V1, failed: [{ ...V3, reason: 'x', at: AT }] };
  assert.equal(recordFor(r, 'a:1.0.0'), r);
  assert.deepEqual(recordFor(r, 'a:2.0.0'), { declared: 'a:2.0.0', failed: r.failed });
});

test('stage → activate → confirm; then stage → activate → roll back', () => {
  let r = recordFor(undefined, 'a:1.0.0');
  r = stage(r, V2, 'fetched', AT);
  assert.deepEqual(r.staged, V2);
  r = activate(r, V1);
  assert.deepEqual([r.current, r.previous, r.staged, r.trial], [V2, V1, undefined, true]);
  r = confirm(r, 'running 2.0.0', AT);
  assert.equal(r.trial, undefined);
  assert.equal(r.last?.result, 'updated');

  r = activate(stage(r, V3, 'fetched', AT), V2);
  assert.deepEqual([r.current, r.previous], [V3, V2]);
  r = rollBack(r, 'the unit failed, exit status 1', AT);
  assert.deepEqual(r.current, V2);
  assert.equal(r.previous, undefined);
  assert.deepEqual(r.failed, [{ ...V3, reason: 'the unit failed, exit status 1', at: AT }]);
  assert.equal(r.last?.result, 'rolled back');
  assert.match(r.last!.message, /rolled back from 3\.0\.0 .* to 2\.0\.0 .*: the unit failed/);
});

test('a rollback without a previous image unpins (the declared image runs again)', () => {
  const r = rollBack(activate(stage(recordFor(undefined, 'a:1.0.0'), V2, 'f', AT), undefined), 'bad', AT);
  assert.equal(r.current, undefined);
  assert.equal(r.failed.length, 1);
});

test('a rollback keeps the container\'s last output lines, bounded to 10 lines and 4 KiB; none without output', () => {
  const trial = activate(stage(recordFor(undefined, 'a:1.0.0'), V2, 'f', AT), V1);
  const r = rollBack(trial, 'the unit failed, exit status 3', AT, ['starting', 'boom: missing config']);
  assert.deepEqual(r.last?.output, ['starting', 'boom: missing config']);
  assert.equal(rollBack(trial, 'x', AT).last?.output, undefined);
  assert.equal(rollBack(trial, 'x', AT, []).last?.output, undefined);

  const many = Array.from({ length: 50 }, (_, i) => `line ${i}`);
  assert.deepEqual(boundOutput(many), many.slice(-ROLLBACK_OUTPUT_LINES));
  const wide = Array.from({ length: 10 }, (_, i) => `${i}${'x'.repeat(999)}`);
  const kept = boundOutput(wide);
  assert.deepEqual(kept, wide.slice(-4), 'the newest lines that fit in 4 KiB (with their line ends)');
  const huge = boundOutput(['old', `${'é'.repeat(5000)}END`]);
  assert.equal(huge.length, 1);
  assert.ok(huge[0]!.endsWith('END'));
  assert.ok(new TextEncoder().encode(huge[0]!).length < ROLLBACK_OUTPUT_BYTES, 'a line longer than the bound keeps its end, whole characters');
  assert.ok(!huge[0]!.includes('\ufffd'));
});

test('the latest rollback of several containers; none when no record is a rollback', () => {
  const rolled = (at: string): ImageUpdateRecord => ({ declared: 'x', failed: [], last: { result: 'rolled back', message: `at ${at}`, at, output: ['o'] } });
  const latest = latestRollback([['a', rolled('2026-01-01T00:00:05Z')], ['b', rolled('2026-01-01T00:00:09Z')], ['c', { declared: 'y', failed: [], last: { result: 'updated', message: '', at: '2026-01-02T00:00:00Z' } }]]);
  assert.deepEqual(latest, { container: 'b', last: { result: 'rolled back', message: 'at 2026-01-01T00:00:09Z', at: '2026-01-01T00:00:09Z', output: ['o'] } });
  assert.equal(latestRollback([['c', { declared: 'y', failed: [] }]]), undefined);
});

test('transitions refuse the states they may not start from', () => {
  const r = recordFor(undefined, 'a:1.0.0');
  const refused = (fn: () => unknown): void => assert.throws(fn, (e: unknown) => isAgentError(e, 'container.update-state'));
  refused(() => activate(r, V1));
  refused(() => confirm(r, 'x', AT));
  refused(() => rollBack(r, 'x', AT));
  refused(() => stage({ ...r, failed: [{ ...V3, reason: 'x', at: AT }] }, V3, 'x', AT));
  const trial = activate(stage(r, V2, 'x', AT), V1);
  refused(() => stage(trial, V3, 'x', AT));
  refused(() => activate(trial, V1));
});

test('the window: always open without one; open inside, closed outside, across midnight', () => {
  const parsed = parseWindow('23:30', '1h');
  assert.ok(parsed.ok);
  const w = parsed.value;
  assert.equal(windowOpen(undefined, new Date('2026-01-01T12:00:00Z'), UTC), true);
  assert.equal(windowOpen(w, new Date('2026-01-01T23:45:00Z'), UTC), true);
  assert.equal(windowOpen(w, new Date('2026-01-02T00:20:00Z'), UTC), true);
  assert.equal(windowOpen(w, new Date('2026-01-02T00:31:00Z'), UTC), false);
  assert.equal(windowOpen(w, new Date('2026-01-01T12:00:00Z'), UTC), false);
});

test('settle: failed, restarted, or not active at the end is a problem', () => {
  const base = { activeState: 'active', nRestarts: 0, execMainStatus: 0 };
  assert.equal(settleProblem(base, base, false), undefined);
  assert.equal(settleProblem(base, base, true), undefined);
  assert.equal(settleProblem(base, { ...base, activeState: 'activating' }, false), undefined);
  assert.match(settleProblem(base, { ...base, activeState: 'activating' }, true)!, /did not become active \(activating\)/);
  assert.match(settleProblem(base, { activeState: 'failed', nRestarts: 0, execMainStatus: 1 }, false)!, /failed, exit status 1/);
  assert.match(settleProblem(base, { ...base, nRestarts: 2 }, false)!, /restarted 2 time/);
});
