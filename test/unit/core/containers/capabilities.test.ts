import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ALL_CAPABILITIES, DEFAULT_CAPABILITIES, capabilitySet, nspawnCapabilityArgs,
} from '../../../../agent/core/containers/capabilities.js';

const retain = (...set: string[]) => ({ name: 'os/linux/capabilities-retain-set', value: { set } });
const remove = (...set: string[]) => ({ name: 'os/linux/capabilities-remove-set', value: { set } });

test('without isolators a payload gets podman\'s 11 default capabilities', () => {
  assert.deepEqual(capabilitySet([]), {
    set: ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID',
      'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_SETFCAP'],
    warnings: [],
  });
  assert.equal(DEFAULT_CAPABILITIES.length, 11);
  assert.equal(ALL_CAPABILITIES.length, 41);
});

test('a retain set replaces the default (union of every retain set), a remove set takes from it', () => {
  assert.deepEqual(capabilitySet([retain('CAP_NET_ADMIN'), retain('CAP_KILL', 'CAP_NET_ADMIN')]).set, ['CAP_KILL', 'CAP_NET_ADMIN']);
  assert.deepEqual(capabilitySet([remove('CAP_CHOWN', 'CAP_SYS_ADMIN')]).set.includes('CAP_CHOWN'), false);
  assert.equal(capabilitySet([remove('CAP_CHOWN')]).set.length, 10);
  assert.deepEqual(capabilitySet([retain('CAP_KILL', 'CAP_CHOWN'), remove('CAP_CHOWN')]).set, ['CAP_KILL']);
});

test('an isolator naming something that is not a capability is not applied, with a warning', () => {
  const r = capabilitySet([retain('CAP_KILL', 'CAP_NOPE'), remove('net_admin')]);
  assert.equal(r.set.length, 11);
  assert.deepEqual(r.warnings, [
    'isolator os/linux/capabilities-retain-set of the image is not applied: not Linux capabilities: "CAP_NOPE" (names look like CAP_NET_ADMIN)',
    'isolator os/linux/capabilities-remove-set of the image is not applied: not Linux capabilities: "net_admin" (names look like CAP_NET_ADMIN)',
  ]);
});

test('nspawn gets the set added and every other capability dropped (drop wins in nspawn)', () => {
  const args = nspawnCapabilityArgs(['CAP_KILL', 'CAP_NET_ADMIN']);
  assert.equal(args[0], '--capability=CAP_KILL,CAP_NET_ADMIN');
  const dropped = args[1]!.replace('--drop-capability=', '').split(',');
  assert.equal(dropped.length, 39);
  assert.ok(!dropped.includes('CAP_KILL') && !dropped.includes('CAP_NET_ADMIN') && dropped.includes('CAP_SYS_ADMIN'));
  assert.deepEqual(nspawnCapabilityArgs([]), [`--drop-capability=${ALL_CAPABILITIES.join(',')}`]);
});
