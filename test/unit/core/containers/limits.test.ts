import { test } from 'node:test';
import assert from 'node:assert/strict';
import { limitsOf } from '../../../../agent/core/containers/limits.js';
import { resolve } from '../../../../agent/core/containers/spec.js';
import { spec } from './helpers.js';

function withIsolators(isolators: Array<{ name: string; value: unknown }>) {
  const base = spec();
  return resolve({ ...base, image: { ...base.image, run: { ...base.image.run!, isolators } } });
}

test('appc isolators with a systemd equivalent become properties or nspawn options', () => {
  const limits = limitsOf(withIsolators([
    { name: 'resource/memory', value: { limit: '1G' } },
    { name: 'resource/cpu', value: { limit: '1.5' } },
    { name: 'os/linux/cpu-shares', value: 2048 },
    { name: 'os/linux/oom-score-adj', value: -500 },
    { name: 'os/linux/no-new-privileges', value: true },
    { name: 'os/linux/capabilities-remove-set', value: { set: ['CAP_SETFCAP', 'CAP_SYS_CHROOT'] } },
    { name: 'os/linux/seccomp-remove-set', value: { set: ['reboot', '@mount'], errno: 'EPERM' } },
  ]));
  const kept = 'CAP_CHOWN,CAP_DAC_OVERRIDE,CAP_FOWNER,CAP_FSETID,CAP_KILL,CAP_SETGID,CAP_SETUID,CAP_SETPCAP,CAP_NET_BIND_SERVICE';
  assert.deepEqual(limits.properties, [['MemoryMax', '1000000000'], ['CPUQuota', '150%'], ['CPUWeight', '200'], ['OOMScoreAdjust', '-500']]);
  assert.deepEqual(limits.nspawnArgs.slice(2), ['--no-new-privileges=yes', '--system-call-filter=~reboot @mount']);
  assert.equal(limits.nspawnArgs[0], `--capability=${kept}`);
  assert.match(limits.nspawnArgs[1]!, /^--drop-capability=.*CAP_SYS_CHROOT,.*CAP_SETFCAP,/);
  assert.deepEqual(limits.flyProperties, [
    ['CapabilityBoundingSet', kept.replaceAll(',', ' ')], ['SystemCallFilter', '~reboot @mount'], ['SystemCallErrorNumber', 'EPERM'],
  ]);
  assert.deepEqual(limits.warnings, []);
  assert.equal(limits.memoryBytes, 1e9);
  assert.equal(limits.cpuPercent, 150);
});

test('isolators without an equivalent, or with values that could not be written safely, are reported', () => {
  const limits = limitsOf(withIsolators([
    { name: 'os/unix/sysctl', value: { 'net.ipv4.ip_forward': '1' } },
    { name: 'os/linux/capabilities-retain-set', value: { set: ['CAP_NET_BIND_SERVICE', 'CAP_NET_ADMIN'] } },
    { name: 'os/linux/capabilities-remove-set', value: { set: ['CAP_X Y'] } },
    { name: 'resource/network-bandwidth', value: { default: true, limit: '1M' } },
  ]));
  assert.deepEqual(limits.warnings, [
    'isolator os/linux/capabilities-remove-set of the image is not applied: not Linux capabilities: "CAP_X Y" (names look like CAP_NET_ADMIN)',
    'isolator os/unix/sysctl of the image is not applied: systemd has no equivalent property',
    'isolator resource/network-bandwidth of the image is not applied: systemd has no equivalent property',
  ]);
  assert.deepEqual(limits.flyProperties, [['CapabilityBoundingSet', 'CAP_NET_BIND_SERVICE CAP_NET_ADMIN']]);
  assert.equal(limits.nspawnArgs[0], '--capability=CAP_NET_BIND_SERVICE,CAP_NET_ADMIN');
});
