import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkIsolatorSet, readIsolator, type Isolator } from '../../../../agent/core/appc/isolators.js';

function rejects(isolator: unknown, subject: string, message: string): void {
  assert.throws(() => readIsolator(isolator, 'i'), { code: 'appc.invalid-manifest', subject, message });
}

function setRejects(isolators: Isolator[], subject: string, message: string): void {
  assert.throws(() => checkIsolatorSet(isolators, 'set'), { code: 'appc.invalid-manifest', subject, message });
}

test('valid values of every isolator type the spec defines', () => {
  const valid: [string, unknown][] = [
    ['resource/cpu', { request: '250m', limit: '500m' }],
    ['resource/memory', { limit: '1G' }],
    ['resource/memory', { request: '128Mi', limit: 1073741824 }],
    ['resource/block-bandwidth', { default: true, limit: '1M' }],
    ['resource/block-iops', { default: true, limit: '1000' }],
    ['resource/network-bandwidth', { default: true, limit: '1e6' }],
    ['os/linux/capabilities-retain-set', { set: ['CAP_NET_BIND_SERVICE'] }],
    ['os/linux/capabilities-remove-set', { set: ['CAP_SYS_ADMIN'] }],
    ['os/linux/no-new-privileges', true],
    ['os/linux/seccomp-remove-set', { set: ['reboot'], errno: 'EPERM' }],
    ['os/linux/seccomp-retain-set', { set: ['@appc.io/all'] }],
    ['os/linux/oom-score-adj', -1000],
    ['os/linux/cpu-shares', 262144],
    ['os/linux/selinux-context', { user: 'system_u', role: 'system_r', type: 'svirt_lxc_net_t', level: 's0:c1,c2' }],
    ['os/linux/apparmor-profile', { profile: 'docker-default' }],
    ['os/unix/sysctl', { 'net.ipv4.ip_forward': '1' }],
  ];
  for (const [name, value] of valid) assert.deepEqual(readIsolator({ name, value }, 'i'), { name, value }, name);
});

test('resource isolators', () => {
  rejects({ name: 'resource/cpu', value: { default: true } }, 'i.value.default', 'default must be false');
  rejects({ name: 'resource/block-iops', value: { limit: '10' } }, 'i.value.default', 'default must be true');
  rejects({ name: 'resource/block-iops', value: { default: true, request: '10' } }, 'i.value.request', 'request not supported by this resource, must be empty');
  rejects({ name: 'resource/memory', value: { limit: '1K' } }, 'i.value.limit', "unable to parse quantity's suffix");
  rejects({ name: 'resource/memory', value: { limit: '' } }, 'i.value.limit', "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'");
  rejects({ name: 'resource/memory' }, 'i.value', 'value of isolator resource/memory must be set');
  rejects({ name: 'resource/memory', value: 5 }, 'i.value', 'cannot unmarshal number into i.value of type object');
});

test('linux isolators', () => {
  rejects({ name: 'os/linux/capabilities-retain-set', value: { set: [] } }, 'i.value.set', 'set must be non-empty');
  rejects({ name: 'os/linux/capabilities-remove-set', value: {} }, 'i.value.set', 'set must be non-empty');
  rejects({ name: 'os/linux/no-new-privileges', value: 'yes' }, 'i.value', 'cannot unmarshal string into i.value of type bool');
  rejects({ name: 'os/linux/seccomp-remove-set', value: { set: ['x'], errno: 'PERM' } }, 'i.value.errno', "errno must start with an 'E' character, got PERM");
  rejects({ name: 'os/linux/seccomp-remove-set', value: { set: ['x'], errno: 'Eperm' } }, 'i.value.errno', 'errno can only contain upper case or numeric characters, got Eperm');
  rejects({ name: 'os/linux/oom-score-adj', value: 1001 }, 'i.value', 'os/linux/oom-score-adj must be between -1000 and 1000, got 1001');
  rejects({ name: 'os/linux/cpu-shares', value: 1 }, 'i.value', 'os/linux/cpu-shares must be between 2 and 262144, got 1');
  rejects({ name: 'os/linux/selinux-context', value: { user: 'a:b', role: 'r', type: 't', level: 's0' } }, 'i.value.user', 'invalid user value "a:b"');
  rejects({ name: 'os/linux/selinux-context', value: { user: 'u', role: 'r', type: 't' } }, 'i.value.level', 'invalid level value ""');
  rejects({ name: 'os/linux/apparmor-profile', value: {} }, 'i.value.profile', 'invalid profile value ""');
  rejects({ name: 'os/unix/sysctl', value: { a: 1 } }, 'i.value.a', 'cannot unmarshal number into i.value.a of type string');
  rejects({ name: 'Resource/cpu', value: {} }, 'i.name', 'ACIdentifier must contain only lower case alphanumeric characters plus "-._~/"');
});

test("an app's isolator set: unknown, repeated and conflicting types", () => {
  checkIsolatorSet(
    [
      { name: 'resource/cpu', value: {} },
      { name: 'resource/cpu', value: {} },
      { name: 'os/linux/capabilities-retain-set', value: { set: ['A'] } },
      { name: 'os/linux/capabilities-retain-set', value: { set: ['B'] } },
    ],
    'set',
  );
  setRejects([{ name: 'example.com/custom', value: 1 }], 'set[0]', 'invalid isolator: unknown type "example.com/custom"');
  setRejects(
    [{ name: 'os/linux/cpu-shares', value: 2 }, { name: 'os/linux/cpu-shares', value: 3 }],
    'set[1]',
    'isolators set contains too many instances of type os/linux/cpu-shares',
  );
  setRejects(
    [{ name: 'os/linux/seccomp-retain-set', value: { set: ['a'] } }, { name: 'os/linux/seccomp-remove-set', value: { set: ['b'] } }],
    'set[1]',
    'isolators set contains incompatible types',
  );
});
