/**
 * The 15 reference vectors (inputs from coreos-cloudinit, results of its validator) and the
 * other inputs checked against it; plus the top-level contract: config only without errors.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { invalidConfigError } from '../../../../agent/core/config/validate.js';
import { lines, report, sorted, validate } from './helpers.js';

interface Vector {
  name: string;
  input: string;
  expected: string[];
  /** Entries come from a Go map in the reference: compare as sets. */
  anyOrder?: boolean;
}

const VECTORS: Vector[] = [
  {
    name: '01-valid-unit-content-start',
    input: `#cloud-config

coreos:
  units:
    - name: "docker-redis.service"
      command: "start"
      content: |
        [Unit]
        Description=Redis container
        Author=Me
        After=docker.service

        [Service]
        Restart=always
        ExecStart=/usr/bin/docker start -a redis_server
        ExecStop=/usr/bin/docker stop -t 2 redis_server
`,
    expected: [],
  },
  {
    name: '02-valid-unit-dropin',
    input: `#cloud-config

coreos:
  units:
    - name: "docker.service"
      drop-ins:
        - name: "50-insecure-registry.conf"
          content: |
            [Service]
            Environment=DOCKER_OPTS='--insecure-registry="10.0.1.0/24"'
`,
    expected: [],
  },
  {
    name: '03-valid-write-files-encodings',
    input: `#cloud-config
write_files:
  - path: "/etc/resolv.conf"
    permissions: "0644"
    owner: "root"
    content: |
      nameserver 8.8.8.8
  - path: "/etc/motd"
    permissions: "0644"
    owner: "root"
    content: |
      Good news, everyone!
  - path: "/tmp/like_this"
    permissions: "0644"
    owner: "root"
    encoding: "gzip"
    content: !!binary |
      H4sIAKgdh1QAAwtITM5WyK1USMqvUCjPLMlQSMssS1VIya9KzVPIySwszS9SyCpNLwYARQFQ5CcAAAA=
  - path: "/tmp/or_like_this"
    permissions: "0644"
    owner: "root"
    encoding: "gzip+base64"
    content: |
      H4sIAKgdh1QAAwtITM5WyK1USMqvUCjPLMlQSMssS1VIya9KzVPIySwszS9SyCpNLwYARQFQ5CcAAAA=
  - path: "/tmp/todolist"
    permissions: "0644"
    owner: "root"
    encoding: "base64"
    content: |
      UGFjayBteSBib3ggd2l0aCBmaXZlIGRvemVuIGxpcXVvciBqdWdz
`,
    expected: [],
  },
  {
    name: '04-valid-users',
    input: `#cloud-config

users:
  - name: "elroy"
    passwd: "$6$5s2u6/jR$un0AvWnqilcgaNB3Mkxd5yYv6mTlWfOoCYHZmfi3LDKVltj.E8XNKEcwWm..."
    groups:
      - "sudo"
      - "docker"
    ssh-authorized-keys:
      - "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC0g+ZTxC7weoIJLUafOgrm+h..."
`,
    expected: [],
  },
  {
    name: '05-valid-update-strategy',
    input: '#cloud-config\ncoreos:\n  update:\n    reboot-strategy: "etcd-lock"\n',
    expected: [],
  },
  {
    name: '06-valid-locksmith-endpoint',
    input: '#cloud-config\n\ncoreos:\n  locksmith:\n      endpoint: "http://example.com:2379"\n',
    expected: [],
  },
  {
    name: '07-valid-unit-mask',
    input: `#cloud-config
coreos:
  units:
    - name: systemd-timesyncd.service
      command: stop
      mask: true
    - name: ntpd.service
      command: start
      enable: true
`,
    expected: [],
  },
  {
    name: '08-warn-full-config-deprecated',
    input: `#cloud-config
hostname: test

coreos:
  etcd:
    name:      node001
    discovery: https://discovery.etcd.io/disco
    addr:      $public_ipv4:4001
    peer-addr: $private_ipv4:7001
  fleet:
    verbosity: 2
    metadata:  "hi"
  update:
    reboot-strategy: off
  units:
    - name:    hi.service
      command: start
      enable:  true
    - name:    bye.service
      command: stop

ssh_authorized_keys:
  - ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC0g+ZTxC7weoIJLUafOgrm+h...
  - ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC0g+ZTxC7weoIJLUafOgrm+h...

users:
  - name: me

write_files:
  - path: /etc/yes
    content: "Hi"

manage_etc_hosts: localhost
`,
    expected: [
      'line 5: warning: deprecated key "etcd" (etcd is no longer shipped in Container Linux)',
      'line 10: warning: deprecated key "fleet" (fleet is no longer shipped in Container Linux)',
    ],
    anyOrder: true,
  },
  {
    name: '09-warn-units-wrong-type',
    input: '#cloud-config\ncoreos:\n  units:\n    - hello\n    - goodbye\n',
    expected: [
      'line 4: warning: incorrect type for "units[0]" (want struct)',
      'line 5: warning: incorrect type for "units[1]" (want struct)',
    ],
  },
  {
    name: '10-warn-unknown-keys-and-misplaced',
    input: '#cloud-config\ntest:\ncoreos:\n  flannel:\n    bad:\n  write_files:\n    - path: /hi\n',
    expected: [
      'line 2: warning: unrecognized key "test"',
      'line 5: warning: unrecognized key "bad"',
      'line 6: warning: unrecognized key "write_files"',
      "line 6: info: write_files doesn't belong under coreos",
    ],
    anyOrder: true,
  },
  {
    name: '11-error-unit-command',
    input: '#cloud-config\ncoreos:\n  units:\n    - command: lol\n',
    expected: ['line 4: error: invalid value lol'],
  },
  {
    name: '12-error-reboot-strategy-bool',
    input: '#cloud-config\ncoreos:\n  update:\n    reboot-strategy: false\n',
    expected: ['line 4: error: invalid value false'],
  },
  {
    name: '13-error-write-usr',
    input: '#cloud-config\nwrite_files:\n  - path: /usr/invalid\n',
    expected: ['line 3: error: file cannot be written to a read-only filesystem'],
  },
  {
    name: '14-error-bad-encoding',
    input: '#cloud-config\nwrite_files:\n  - encoding: base64\n    content: !!binary aGVsbG8K\n',
    expected: ['line 4: error: content cannot be decoded as "base64"'],
  },
  {
    name: '15-error-yaml-syntax',
    input: '#cloud-config\na:\na\n',
    expected: ["line 3: error: could not find expected ':'", 'line 0: warning: incorrect type for "" (want struct)'],
  },
];

for (const v of VECTORS) {
  test(`reference vector ${v.name}`, () => {
    const got = report(v.input);
    if (v.anyOrder) assert.deepEqual(sorted(got), sorted(v.expected));
    else assert.deepEqual(got, v.expected);
  });
}

test('the vectors with errors give no config; the others do (warnings do not block)', () => {
  for (const v of VECTORS) {
    const hasError = v.expected.some((e) => e.includes(': error: '));
    assert.equal(validate(v.input).config === undefined, hasError, v.name);
  }
});

test('other inputs checked against the reference', () => {
  assert.deepEqual(report('{}'), ['line 1: error: must be "#cloud-config" or begin with "#!"']);
  assert.deepEqual(report(''), []);
  assert.deepEqual(report('#cloud-config\ncoreos:\n  locksmith:\n    window_start: "Thu 04:00"\n    window_length: "1h"\n'), []);
  assert.deepEqual(report('#cloud-config\ncoreos:\n  locksmith:\n    window_start: "Thursday 4am"\n'),
    ['line 4: error: invalid value Thursday 4am']);
  assert.deepEqual(report('#cloud-config\ncoreos:\n  locksmith:\n    window_length: "1 hour"\n'),
    ['line 4: error: invalid value 1 hour']);
  assert.deepEqual(report('#cloud-config\nwrite_files:\n  - path: /etc/x\n    permissions: 0800\n'),
    ['line 4: error: invalid value 0800']);
});

test('a script or an Ignition config is not run: no entry (as coreos-cloudinit), and nothing to apply', () => {
  for (const [text, kind] of [['#!/bin/bash\necho hey\n', 'script'], ['{"ignition": {"version": "2.2.0"}}\n', 'ignition'],
    ['{"ignitionVersion": 1}', 'ignition']]) {
    const result = validate(text!);
    assert.deepEqual(result.entries, [], text);
    assert.deepEqual(result.sources, [{ kind }]);
    assert.deepEqual(result.config?.units, []);
  }
  // Other JSON is no cloud-config.
  assert.deepEqual(lines(validate('{"hostname": "a"}')), ['line 1: error: must be "#cloud-config" or begin with "#!"']);
});

test('entries name their file', () => {
  const result = validate('#cloud-config\ncoreos:\n  units:\n    - command: lol\n', '/etc/host-agent/cloud-config.yaml');
  assert.deepEqual(result.entries, [
    { file: '/etc/host-agent/cloud-config.yaml', line: 4, level: 'error', message: 'invalid value lol' },
  ]);
  assert.deepEqual(lines(result), ['/etc/host-agent/cloud-config.yaml: line 4: error: invalid value lol']);
});

test('invalidConfigError names the count and every error with its file and line', () => {
  const result = validate('#cloud-config\ncoreos:\n  units:\n    - command: lol\n    - command: nope\n', '/etc/a.yaml');
  const error = invalidConfigError(result);
  assert.equal(error.code, 'config.invalid');
  assert.equal(error.subject, '/etc/a.yaml');
  assert.equal(error.message, 'the configuration has 2 errors:\n  /etc/a.yaml: line 4: error: invalid value lol\n  /etc/a.yaml: line 5: error: invalid value nope');
  assert.ok(error.hint);
});
