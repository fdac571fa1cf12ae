/**
 * Drop-ins: files merged in the order given (shipped, main, admin), later wins; named items
 * merge by name, field by field; plain lists are replaced; every entry names its file.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lines, validateAll } from './helpers.js';

const SYSTEM = '/usr/lib/host-agent/config.d/10-defaults.yaml';
const MAIN = '/etc/host-agent/cloud-config.yaml';
const ADMIN = '/etc/host-agent/config.d/50-local.yaml';
const cc = (body: string) => `#cloud-config\n${body}`;

test('later files win: shipped drop-ins, then the main file, then admin drop-ins', () => {
  const three = validateAll([
    { file: SYSTEM, text: cc('hostname: shipped\ncoreos:\n  update:\n    group: stable\n    server: https://u.example.com\n') },
    { file: MAIN, text: cc('hostname: main\ncoreos:\n  update:\n    group: beta\n') },
    { file: ADMIN, text: cc('hostname: admin\n') },
  ]);
  assert.deepEqual(three.entries, []);
  assert.equal(three.config?.hostname, 'admin');
  assert.deepEqual(three.config?.update, { group: 'beta', server: 'https://u.example.com' });
  const two = validateAll([{ file: SYSTEM, text: cc('hostname: shipped\n') }, { file: MAIN, text: cc('hostname: main\n') }]);
  assert.equal(two.config?.hostname, 'main');
});

test('units merge by name, field by field, and their drop-ins by name', () => {
  const result = validateAll([
    { file: MAIN, text: cc(`coreos:
  units:
    - name: web.service
      command: start
      content: "[Service]\\nExecStart=/bin/web\\n"
      drop-ins:
        - {name: 10-a.conf, content: "[Service]\\nNice=1\\n"}
        - {name: 20-b.conf, content: "[Service]\\nNice=2\\n"}
    - name: db.service
      command: start
`) },
    { file: ADMIN, text: cc(`coreos:
  units:
    - name: web.service
      enable: true
      drop_ins:
        - {name: 20-b.conf, content: "[Service]\\nNice=5\\n"}
        - {name: 30-c.conf, content: "[Service]\\nNice=3\\n"}
    - name: cache.service
      mask: true
`) },
  ]);
  assert.deepEqual(result.entries, []);
  const units = result.config!.units;
  assert.deepEqual(units.map((u) => u.name), ['web.service', 'db.service', 'cache.service']);
  const web = units[0]!;
  assert.equal(web.content, '[Service]\nExecStart=/bin/web\n');
  assert.equal(web.command, 'start');
  assert.equal(web.enable, true);
  assert.deepEqual(web.dropIns, [
    { name: '10-a.conf', content: '[Service]\nNice=1\n' },
    { name: '20-b.conf', content: '[Service]\nNice=5\n' },
    { name: '30-c.conf', content: '[Service]\nNice=3\n' },
  ]);
  assert.deepEqual(web.origin, { file: ADMIN, line: 4 });
  assert.deepEqual(units[2]!.origin, { file: ADMIN, line: 9 });
});

test('write_files merge by resolved path; users by name; trust by prefix', () => {
  const key = (n: number) => `"-----BEGIN PGP PUBLIC KEY BLOCK-----\\nkey${n}"`;
  const result = validateAll([
    { file: SYSTEM, text: cc(`write_files:
  - {path: /etc/motd, content: shipped, permissions: "0600"}
  - {path: /etc/issue, content: issue}
users:
  - {name: core, groups: [wheel], shell: /bin/bash}
host-agent:
  trust:
    - {prefix: example.com/web, key: ${key(1)}}
    - {prefix: example.com/db, key: ${key(2)}}
`) },
    { file: ADMIN, text: cc(`write-files:
  - {path: /etc//./motd, content: local}
users:
  - {name: core, groups: [docker]}
  - {name: ops}
host-agent:
  trust:
    - {prefix: example.com/web, key: ${key(3)}}
`) },
  ]);
  assert.deepEqual(result.entries, []);
  const files = result.config!.writeFiles;
  assert.deepEqual(files.map((f) => [f.path, Buffer.from(f.content).toString(), f.permissions.toString(8)]), [
    ['/etc/motd', 'local', '600'], ['/etc/issue', 'issue', '644']]);
  assert.deepEqual(result.config!.users.map((u) => [u.name, u.groups, u.shell]), [
    ['core', ['docker'], '/bin/bash'], ['ops', [], undefined]]);
  assert.deepEqual(result.config!.trust.map((t) => [t.prefix, t.key.slice(-4), t.origin.file]), [
    ['example.com/web', 'key3', ADMIN], ['example.com/db', 'key2', SYSTEM]]);
});

test('containers merge by name; environment by variable; plain lists are replaced whole', () => {
  const result = validateAll([
    { file: MAIN, text: cc(`ssh_authorized_keys: [ssh-ed25519 AAAA main]
host-agent:
  containers:
    - name: web
      image: example.com/web:1.4.0
      exec: [/bin/httpd, -f]
      environment: {GREETING: hello, MODE: prod}
      memory: 128M
`) },
    { file: ADMIN, text: cc(`ssh_authorized_keys: [ssh-ed25519 BBBB admin]
host-agent:
  containers:
    - name: web
      exec: [/bin/httpd, -v]
      environment: {MODE: debug}
      cpu: 25%
`) },
  ]);
  assert.deepEqual(result.entries, []);
  const web = result.config!.containers[0]!;
  assert.equal(web.imageText, 'example.com/web:1.4.0');
  assert.deepEqual(web.exec, ['/bin/httpd', '-v']);
  assert.deepEqual(web.environment, { GREETING: 'hello', MODE: 'debug' });
  assert.equal(web.memoryBytes, 128 * 2 ** 20);
  assert.equal(web.cpuPercent, 25);
  assert.deepEqual(result.config!.sshAuthorizedKeys, ['ssh-ed25519 BBBB admin']);
});

test('a key without a value in a later file changes nothing (and warns, as the reference does)', () => {
  const result = validateAll([
    { file: MAIN, text: cc('hostname: main\n') },
    { file: ADMIN, text: cc('hostname:\n') },
  ]);
  assert.equal(result.config?.hostname, 'main');
  assert.deepEqual(lines(result), [`${ADMIN}: line 2: warning: incorrect type for "hostname" (want string)`]);
});

test('items named twice in one file merge too, the later winning', () => {
  const result = validateAll([{ file: MAIN, text: cc(`coreos:
  units:
    - {name: a.service, command: start, enable: true}
    - {name: a.service, command: stop}
`) }]);
  assert.deepEqual(result.config?.units.map((u) => [u.name, u.command, u.enable]), [['a.service', 'stop', true]]);
});

test('entries of every file are reported, each naming its file; any error blocks the whole', () => {
  const result = validateAll([
    { file: SYSTEM, text: cc('coreos:\n  units:\n    - command: lol\n') },
    { file: MAIN, text: 'hostname: no header\n' },
    { file: ADMIN, text: cc('bogus: 1\n') },
  ]);
  assert.equal(result.config, undefined);
  assert.deepEqual(lines(result), [
    `${SYSTEM}: line 4: error: invalid value lol`,
    `${MAIN}: line 1: error: must be "#cloud-config" or begin with "#!"`,
    `${ADMIN}: line 2: warning: unrecognized key "bogus"`,
  ]);
  assert.deepEqual(result.sources.map((s) => s.kind), ['cloud-config', 'invalid', 'cloud-config']);
});

test('checks of the merged whole name the file of the item', () => {
  const result = validateAll([
    { file: MAIN, text: cc('host-agent:\n  containers:\n    - name: web\n      memory: 64M\n') },
    { file: ADMIN, text: cc('hostname: ok\nhost-agent:\n  containers:\n    - name: db\n      image: example.com/db\n') },
  ]);
  assert.deepEqual(lines(result), [
    `${MAIN}: line 4: error: container "web" has no "image"; e.g. image: example.com/web:1.4.0`]);
  // The error rejects that container alone.
  assert.deepEqual(result.config?.containers.map((c) => c.name), ['db']);
  assert.deepEqual(result.config?.rejectedContainers.map((c) => c.name), ['web']);
  // The image given in a later file completes the item.
  const completed = validateAll([
    { file: MAIN, text: cc('host-agent:\n  containers:\n    - name: web\n      memory: 64M\n') },
    { file: ADMIN, text: cc('host-agent:\n  containers:\n    - name: web\n      image: example.com/web\n') },
  ]);
  assert.deepEqual(completed.entries, []);
  assert.equal(completed.config?.containers[0]?.memoryBytes, 64 * 2 ** 20);
});

test('a script among the files is skipped, without an entry (as coreos-cloudinit)', () => {
  const result = validateAll([
    { file: MAIN, text: cc('hostname: main\n') },
    { file: ADMIN, text: '#!/bin/sh\nreboot\n' },
  ]);
  assert.equal(result.config?.hostname, 'main');
  assert.deepEqual(result.entries, []);
  assert.deepEqual(result.sources.map((x) => x.kind), ['cloud-config', 'script']);
});
