/**
 * Every rule of the reference validator, case by case (the cases of its own rule tests, with
 * the header line added, so lines are one more), plus our deliberate differences.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { isRequestUri } from '../../../../agent/core/config/rules.js';
import { ruleReport as report, sorted } from './helpers.js';

type Case = [input: string, expected: string[]];

function check(cases: Case[]): void {
  for (const [input, expected] of cases) {
    assert.deepEqual(sorted(report(`#cloud-config\n${input}`)), sorted(expected), input);
  }
}

const DEPRECATED_ETCD = 'line 3: warning: deprecated key "etcd" (etcd is no longer shipped in Container Linux)';

test('discovery URL: a request URI, else a warning', () => {
  check([
    ['coreos:\n  etcd:\n    discovery: https://discovery.etcd.io/00000000000000000000000000000000', [DEPRECATED_ETCD]],
    ['coreos:\n  etcd:\n    discovery: http://custom.domain/mytoken', [DEPRECATED_ETCD]],
    ['coreos:\n  etcd:\n    discovery: disco', [DEPRECATED_ETCD, 'line 4: warning: discovery URL is not valid']],
  ]);
  // The discovery rule runs before the structure rule.
  assert.deepEqual(report('#cloud-config\ncoreos:\n  etcd:\n    discovery: disco'),
    ['line 4: warning: discovery URL is not valid', DEPRECATED_ETCD]);
});

test('isRequestUri follows Go url.ParseRequestURI', () => {
  for (const ok of ['https://discovery.etcd.io/x', 'http://10.0.0.1:2379/', '/relative/path', 'mailto:x', 'http://[::1]:80/']) {
    assert.equal(isRequestUri(ok), true, ok);
  }
  for (const bad of ['disco', '', 'http://host:port/', 'http://x/%zz', '1http://x', ':x', 'http://x/\u0001']) {
    assert.equal(isRequestUri(bad), false, bad);
  }
});

test('encoding: content must decode as its encoding', () => {
  const gz = gzipSync('hello\n').toString('base64');
  check([
    ['write_files:\n  - encoding: base64\n    content: aGVsbG8K', []],
    ['write_files:\n  - content: !!binary aGVsbG8K', []],
    ['write_files:\n  - encoding: base64\n    content: !!binary aGVsbG8K', ['line 4: error: content cannot be decoded as "base64"']],
    ['write_files:\n  - encoding: base64\n    content: !!binary YUdWc2JHOEsK', []],
    ['write_files:\n  - encoding: gzip\n    content: !!binary H4sIAOC3tVQAA8tIzcnJ5wIAIDA6NgYAAAA=', []],
    ['write_files:\n  - encoding: gzip+base64\n    content: H4sIAOC3tVQAA8tIzcnJ5wIAIDA6NgYAAAA=', []],
    ['write_files:\n  - encoding: custom\n    content: hello', [
      'line 4: error: content cannot be decoded as "custom"', 'line 3: error: invalid value custom']],
    [`write_files:\n  - encoding: b64\n    content: aGVsbG8K`, []],
    [`write_files:\n  - encoding: gz\n    content: !!binary ${gz}`, []],
    ...['gz+base64', 'gz+b64', 'gzip+b64'].map((e): Case => [`write_files:\n  - encoding: ${e}\n    content: ${gz}`, []]),
    ['write_files:\n  - encoding: gzip+base64\n    content: aGVsbG8K', ['line 4: error: content cannot be decoded as "gzip+base64"']],
    ['write_files:\n  - encoding: base64\n    content: "aGVsbG8 K"', ['line 4: error: content cannot be decoded as "base64"']],
    ['write_files:\n  - encoding: base64\n    content: aGVsbG8', ['line 4: error: content cannot be decoded as "base64"']],
  ]);
  // gzip whose header is fine but whose body is cut: decoded for real, so refused.
  const cut = gzipSync('hello world, hello world').subarray(0, 15).toString('base64');
  check([[`write_files:\n  - encoding: gzip+base64\n    content: ${cut}`,
    ['line 4: error: content cannot be decoded as "gzip+base64"']]]);
});

test('structure: unknown keys, deprecated keys', () => {
  check([
    ['test:', ['line 2: warning: unrecognized key "test"']],
    ['coreos:\n  flannel:\n    bad:', ['line 4: warning: unrecognized key "bad"']],
    ['coreos:\n  flannel:\n    interface: good', []],
    ['coreos:\n  etcd:\n    proxy: hi', [DEPRECATED_ETCD, 'line 4: warning: deprecated key "proxy" (etcd2 options no longer work for etcd)']],
    ['coreos:\n  etcd2:\n    ca-file: /x', [
      'line 3: warning: deprecated key "etcd2" (etcd2 is no longer shipped in Container Linux)',
      'line 4: warning: deprecated key "ca_file" (ca_file obsoleted by trusted_ca_file and client_cert_auth)']],
    ['users:\n  - name: a\n    coreos-ssh-import-github: a', [
      'line 4: warning: deprecated key "coreos_ssh_import_github" (trying to fetch from a remote endpoint introduces too many intermittent errors)']],
    ['coreos:\n  unknown-thing: 1', ['line 3: warning: unrecognized key "unknown_thing"']],
  ]);
});

test('structure: types as the reference sees them', () => {
  const want = (line: number, name: string, type: string) => `line ${line}: warning: incorrect type for "${name}" (want ${type})`;
  check([
    ['coreos:\n  units:\n    - enable: true', []],
    ['coreos:\n  units:\n    - enable: 4', [want(4, 'enable', 'bool')]],
    ['coreos:\n  units:\n    - enable: bad', [want(4, 'enable', 'bool')]],
    ['coreos:\n  units:\n    - enable:\n        bad:', [want(4, 'enable', 'bool')]],
    ['coreos:\n  units:\n    - enable:\n      - bad', [want(4, 'enable', 'bool')]],
    ['hostname: true', []],
    ['hostname: 4', []],
    ['hostname: host', []],
    ['hostname:\n  name:', [want(2, 'hostname', 'string')]],
    ['hostname:\n  - name', [want(2, 'hostname', 'string')]],
    ['coreos: true', [want(2, 'coreos', 'struct')]],
    ['coreos: 4', [want(2, 'coreos', 'struct')]],
    ['coreos: hello', [want(2, 'coreos', 'struct')]],
    ['coreos:\n  - hello', [want(2, 'coreos', 'struct')]],
    ['ssh_authorized_keys: true', [want(2, 'ssh_authorized_keys', '[]string')]],
    ['ssh_authorized_keys: 4', [want(2, 'ssh_authorized_keys', '[]string')]],
    ['ssh_authorized_keys: key', [want(2, 'ssh_authorized_keys', '[]string')]],
    ['ssh_authorized_keys:\n  key: value', [want(2, 'ssh_authorized_keys', '[]string')]],
    ['ssh_authorized_keys:\n  - key', []],
    ['ssh_authorized_keys:\n  - key: value', [want(3, 'ssh_authorized_keys[0]', 'string')]],
    ['users:\n  true', [want(2, 'users', '[]struct')]],
    ['users:\n  4', [want(2, 'users', '[]struct')]],
    ['users:\n  bad', [want(2, 'users', '[]struct')]],
    ['users:\n  bad:', [want(2, 'users', '[]struct')]],
    ['users:\n  - name: good', []],
    ['users:\n  - true', [want(3, 'users[0]', 'struct')]],
    ['users:\n  - name: hi\n  - true', [want(4, 'users[1]', 'struct')]],
    ['users:\n  - 4', [want(3, 'users[0]', 'struct')]],
    ['users:\n  - bad', [want(3, 'users[0]', 'struct')]],
    ['users:\n  - - bad', [want(3, 'users[0]', 'struct')]],
    // Floats take ints; ints take only ints.
    ['coreos:\n  fleet:\n    engine_reconcile_interval: 2', ['line 3: warning: deprecated key "fleet" (fleet is no longer shipped in Container Linux)']],
    ['coreos:\n  fleet:\n    verbosity: 2.5', [
      'line 3: warning: deprecated key "fleet" (fleet is no longer shipped in Container Linux)', want(4, 'verbosity', 'int')]],
    // A key without a value is null, which is no type at all.
    ['hostname:', [want(2, 'hostname', 'string')]],
    ['coreos:\n  units:\n    - name: a.service\n      drop-ins: x', [want(5, 'drop_ins', '[]struct')]],
  ]);
});

test('"-" and "_" in keys are the same', () => {
  check([
    ['write-files:\n  - path: /etc/x', []],
    ['coreos:\n  update:\n    reboot_strategy: reboot\n    reboot-strategy: off', []],
    ['ssh-authorized-keys: [a]', []],
  ]);
});

test('validity: values of keys with a fixed set of values', () => {
  check([
    ['hostname: test', []],
    ['coreos:\n  units:\n    - enable: true', []],
    ['coreos:\n  units:\n    - command: start\n    - name: stop', []],
    ['coreos:\n  units:\n    - command: lol', ['line 4: error: invalid value lol']],
    ['coreos:\n  update:\n    reboot_strategy: off', []],
    ['coreos:\n  update:\n    reboot_strategy: always', ['line 4: error: invalid value always']],
    ['unknown: hi', ['line 2: warning: unrecognized key "unknown"']],
    ['write_files:\n  - permissions: 0744', []],
    ["write_files:\n  - permissions: '0744'", []],
    ['write_files:\n  - permissions: 744', []],
    ["write_files:\n  - permissions: '744'", []],
    ['write_files:\n  - permissions: 01777', []],
    ['write_files:\n  - permissions: 0999', ['line 3: error: invalid value 0999']],
    ['write_files:\n  - permissions: rw-r--r--', ['line 3: error: invalid value rw-r--r--']],
    ['coreos:\n  update:\n    reboot-strategy: false', ['line 4: error: invalid value false']],
    ['coreos:\n  update:\n    reboot-strategy: ""', []],
    ['coreos:\n  etcd2:\n    proxy: sometimes', [
      'line 3: warning: deprecated key "etcd2" (etcd2 is no longer shipped in Container Linux)',
      'line 4: error: invalid value sometimes']],
    ['coreos:\n  locksmith:\n    window-start: thu 4:00\n    window-length: 1h30m', []],
    ['coreos:\n  locksmith:\n    window-start: 24:00\n    window-length: 1h', ['line 4: error: invalid value 24:00']],
    ['coreos:\n  locksmith:\n    window-start: 04:00\n    window-length: 1H', ['line 5: error: invalid value 1H']],
  ]);
  for (const command of ['start', 'stop', 'restart', 'reload', 'try-restart', 'reload-or-restart', 'reload-or-try-restart']) {
    check([[`coreos:\n  units:\n    - name: a.service\n      command: ${command}`, []]]);
  }
  for (const strategy of ['etcd-lock', 'reboot', 'off', 'fleetlock']) {
    check([[`coreos:\n  update:\n    reboot-strategy: ${strategy}`, []]]);
  }
});

test('write_files: nothing under /usr, judged after resolving the path', () => {
  const readOnly = (line: number) => `line ${line}: error: file cannot be written to a read-only filesystem`;
  check([
    ['write_files:\n  - path: /valid', []],
    ['write_files:\n  - path: /tmp/usr/valid', []],
    ['write_files:\n  - path: /usr/invalid', [readOnly(3)]],
    ['write-files:\n  - path: /tmp/../usr/invalid', [readOnly(3)]],
    ['write_files:\n  - path: /etc/../usr/x', [readOnly(3)]],
    ['write_files:\n  - path: //usr/./lib/x', [readOnly(3)]],
    ['write_files:\n  - path: /etc/../../../usr/share/x', [readOnly(3)]],
    // Relative paths are written from /, so this one is under /usr too.
    ['write_files:\n  - path: usr/x', [readOnly(3)]],
    ['write_files:\n  - path: /usrlocal/x', []],
    ['write_files:\n  - path: /etc/x\n  - path: /usr/y', [readOnly(4)]],
  ]);
});

test('write_files under coreos: unrecognized there, and an info', () => {
  check([
    ['write_files:\n  - path: /hi', []],
    ['coreos:\n  write_files:\n    - path: /hi', [
      'line 3: warning: unrecognized key "write_files"', "line 3: info: write_files doesn't belong under coreos"]],
    ['coreos:\n  write-files:\n    - path: /hyphen', [
      'line 3: warning: unrecognized key "write_files"', "line 3: info: write_files doesn't belong under coreos"]],
    ['coreos:\n  write_files:', ['line 3: warning: unrecognized key "write_files"']],
  ]);
});

test('lines are those of the key, or of the list item, also in flow style', () => {
  check([
    ['coreos: {units: [{command: lol}]}', ['line 2: error: invalid value lol']],
    ['coreos:\n  units: [hello,\n    goodbye]', [
      'line 3: warning: incorrect type for "units[0]" (want struct)',
      'line 4: warning: incorrect type for "units[1]" (want struct)']],
    ['# a comment\n\ncoreos:\n  units:\n  - name: a.service\n    command: lol', ['line 7: error: invalid value lol']],
  ]);
});
