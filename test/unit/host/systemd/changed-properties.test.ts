/**
 * The values a PropertiesChanged signal carries, applied to a known unit status (so the
 * agent need not read the unit back): only what the signal names changes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { UnitStatus } from '../../../../agent/api/agent1.js';
import { withChangedProperties } from '../../../../agent/host/systemd/manager.js';

const known: UnitStatus = {
  name: 'web.service', description: 'Web', loadState: 'loaded', activeState: 'active', subState: 'running',
  mainPid: 42, nRestarts: 0, execMainStatus: 0, activeSince: '2026-11-22T09:00:00.000Z',
};

test('the signalled values replace the known ones; the rest stays', () => {
  const next = withChangedProperties(known, { ActiveState: 'failed', SubState: 'failed', ExecMainStatus: 3, MainPID: 0, NRestarts: 2n });
  assert.deepEqual(next, { ...known, activeState: 'failed', subState: 'failed', execMainStatus: 3, mainPid: 0, nRestarts: 2 });
  assert.equal(known.activeState, 'active', 'the known status is not changed in place');
});

test('ActiveEnterTimestamp: microseconds to ISO time; 0 means never active', () => {
  const since = withChangedProperties(known, { ActiveEnterTimestamp: 1_795_000_000_000_000n });
  assert.equal(since.activeSince, new Date(1_795_000_000_000).toISOString());
  assert.equal('activeSince' in withChangedProperties(known, { ActiveEnterTimestamp: 0n }), false);
});

test('values of the wrong type and unknown properties are ignored', () => {
  assert.deepEqual(withChangedProperties(known, { ActiveState: 7, Colour: 'blue' }), known);
});
