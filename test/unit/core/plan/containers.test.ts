import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  describeContainerStep, explainContainerPlan, planContainers, rejectionError, type ContainerObservation, type ContainerStep, type InstalledContainerUnit, type PreparedContainer,
} from '../../../../agent/core/plan/containers.js';

const H1 = 'sha256-1111111111111111111111111111111111111111111111111111111111111111';
const H2 = 'sha256-2222222222222222222222222222222222222222222222222222222222222222';

const rendered = (name: string, hash = H1): PreparedContainer => ({ kind: 'rendered', unit: `container-${name}.service`, hash, imageId: 'sha512-x' });
const unit = (name: string, activeState: string, hash: string | undefined = H1): InstalledContainerUnit => ({ name, unit: `container-${name}.service`, hash, activeState });
const decl = (name: string, image = 'example.com/busybox:1.0.0') => ({ name, image });
const observed = (installed: InstalledContainerUnit[], prepared: Array<[string, PreparedContainer]>, started: string[] = []): ContainerObservation => ({
  installed, prepared: new Map(prepared), started: new Set(started),
});
const kinds = (steps: ContainerStep[]): string[] => steps.map((s) => ('container' in s ? `${s.kind} ${s.container}` : s.kind));

test('nothing installed: write every unit, reload once, start each', () => {
  const plan = planContainers([decl('web'), decl('db')], observed([], [['web', rendered('web')], ['db', rendered('db')]]));
  assert.deepEqual(kinds(plan.steps), ['write-unit web', 'write-unit db', 'daemon-reload', 'start web', 'start db']);
  assert.deepEqual(plan.errors, []);
});

test('adoption: same hash and active means no step at all', () => {
  const plan = planContainers([decl('web')], observed([unit('web', 'active')], [['web', rendered('web')]]));
  assert.deepEqual(plan.steps, []);
  const activating = planContainers([decl('web')], observed([unit('web', 'activating')], [['web', rendered('web')]]));
  assert.deepEqual(activating.steps, []);
});

test('drift: a different hash stops that container under its old unit, rewrites it and starts it again', () => {
  const plan = planContainers([decl('web'), decl('db')], observed(
    [unit('web', 'active', H1), unit('db', 'active', H1)],
    [['web', rendered('web', H2)], ['db', rendered('db', H1)]],
  ));
  // The stop comes before the write: systemd runs the ExecStopPost of the unit as loaded,
  // so the container is torn down (its network above all) by the unit that set it up.
  assert.deepEqual(kinds(plan.steps), ['stop web', 'write-unit web', 'daemon-reload', 'start web']);
});

test('a unit without a hash is drift too', () => {
  const plan = planContainers([decl('web')], observed([{ ...unit('web', 'active'), hash: undefined }], [['web', rendered('web')]]));
  assert.deepEqual(kinds(plan.steps), ['stop web', 'write-unit web', 'daemon-reload', 'start web']);
});

test('an inactive declared container is started; a failed one is reset first', () => {
  const plan = planContainers([decl('a'), decl('b')], observed([unit('a', 'inactive'), unit('b', 'failed')], [['a', rendered('a')], ['b', rendered('b')]]));
  assert.deepEqual(kinds(plan.steps), ['reset-failed b', 'start a', 'start b']);
});

test('a container started in this reconcile is not started again (no loop on a failing payload)', () => {
  const plan = planContainers([decl('b')], observed([unit('b', 'failed')], [['b', rendered('b')]], ['b']));
  assert.deepEqual(plan.steps, []);
});

test('a changed failed container is rewritten, reset and started', () => {
  const plan = planContainers([decl('b')], observed([unit('b', 'failed', H1)], [['b', rendered('b', H2)]], ['b']));
  assert.deepEqual(kinds(plan.steps), ['write-unit b', 'daemon-reload', 'reset-failed b', 'start b']);
});

test('removed from the config: stopped, then its unit files removed and systemd reloaded', () => {
  const plan = planContainers([], observed([unit('old', 'active')], []));
  assert.deepEqual(kinds(plan.steps), ['stop old', 'remove-unit old', 'daemon-reload']);
  const failed = planContainers([], observed([unit('old', 'failed')], []));
  assert.deepEqual(kinds(failed.steps), ['remove-unit old', 'daemon-reload', 'reset-failed old']);
  const inactive = planContainers([], observed([unit('old', 'inactive')], []));
  assert.deepEqual(kinds(inactive.steps), ['remove-unit old', 'daemon-reload']);
});

test('an image not in the store is fetched first; the container is planned on the next pass', () => {
  const plan = planContainers([decl('web', 'example.com/web:2')], observed([], [['web', { kind: 'image-missing' }]]));
  assert.deepEqual(plan.steps, [{ kind: 'fetch-image', container: 'web', image: 'example.com/web:2' }]);
});

test('bad declarations are errors for that container only; the others are planned', () => {
  const refused: PreparedContainer = { kind: 'refused', error: { code: 'container.invalid-spec', message: 'exec[1]: has a newline' } };
  const rejected = rejectionError({ name: 'dup', errors: [
    { file: '/etc/a.yaml', line: 9, level: 'error', message: 'container "dup" is declared twice in this file (also at line 4)', item: 'dup' },
  ] });
  const plan = planContainers(
    [{ name: 'dup', image: '', rejected }, decl('refused'), decl('good')],
    observed([unit('refused', 'active', H1), unit('dup', 'active', H1)], [['refused', refused], ['good', rendered('good')]]),
  );
  assert.deepEqual(kinds(plan.steps), ['write-unit good', 'daemon-reload', 'start good'], 'refused and dup keep their installed units as they are');
  assert.deepEqual(plan.errors.map((e) => [e.container, e.error.code]), [
    ['dup', 'container.invalid-declaration'],
    ['refused', 'container.invalid-spec'],
  ]);
  assert.equal(plan.errors[0]!.error.message, '/etc/a.yaml: line 9: error: container "dup" is declared twice in this file (also at line 4)');
});

test('a name declared but not prepared (the host side skipped it) gets no step and is not removed', () => {
  const plan = planContainers([decl('web')], observed([unit('web', 'active')], []));
  assert.deepEqual(plan.steps, []);
});

test('steps read as sentences', () => {
  assert.equal(describeContainerStep({ kind: 'fetch-image', container: 'web', image: 'example.com/web' }), 'fetch image example.com/web for container web');
  assert.equal(describeContainerStep({ kind: 'daemon-reload' }), 'reload systemd');
});

test('explained for config plan: create, change (why, stopped with its old unit), remove (why), and rejected ones as problems', () => {
  const installed = [unit('web', 'active', H1), unit('old', 'active', H1)];
  const plan = planContainers([decl('web'), decl('new'), { ...decl('bad'), rejected: { code: 'container.invalid-declaration', message: 'f.yaml: line 5: error: x' } }],
    observed(installed, [['web', rendered('web', H2)], ['new', rendered('new', H1)]]));
  const { steps, problems } = explainContainerPlan(plan, installed);
  assert.deepEqual(steps, [
    'stop container web (container-web.service): its unit changes; it is stopped with the unit that started it, and started again with the new one',
    'stop container old (container-old.service): it is no longer declared',
    'remove container old: no valid configuration declares it any more (its unit files go, its writable layer is kept)',
    `change container web: its declaration or image changed (unit ${H1.slice(0, 19)} → ${H2.slice(0, 19)})`,
    `create container new: write its unit (${H1.slice(0, 19)})`,
    'reload systemd',
    'start container-web.service',
    'start container-new.service',
  ]);
  assert.deepEqual(problems, ['container bad is left as it is: f.yaml: line 5: error: x']);
});
