/**
 * Our own keys (`host-agent:`): each value check, with a message that names the rule and a
 * correct example, reported at the value's line like the reference's entries.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  checkArmoredKey, checkContainerName, checkCpu, checkImage, checkMemory, checkPort, checkPrivateUsers, checkUserOrGroup,
  parseCpuPercent, parseSize,
} from '../../../../agent/core/config/checks.js';
import { ruleReport } from './helpers.js';

const container = (fields: string) =>
  ruleReport(`#cloud-config\nhost-agent:\n  containers:\n    - name: web\n      image: example.com/web\n${fields}`);

test('container names are AC Names', () => {
  assert.equal(checkContainerName('web-2'), undefined);
  assert.equal(checkContainerName('Web'),
    'invalid container name "Web": ACName must contain only lower case alphanumeric characters plus "-"; e.g. "web" or "web-2"');
  assert.equal(checkContainerName('-web'),
    'invalid container name "-web": ACName must start and end with only lower case alphanumeric characters; e.g. "web" or "web-2"');
  assert.deepEqual(ruleReport('#cloud-config\nhost-agent:\n  containers:\n    - name: web_1\n'), [
    'line 4: error: invalid container name "web_1": ACName must contain only lower case alphanumeric characters plus "-"; e.g. "web" or "web-2"']);
});

test('images are AC Identifiers with an optional version or labels', () => {
  for (const ok of ['example.com/web', 'example.com/web:1.4.0', 'example.com/web,version=1.4.0,os=linux']) {
    assert.equal(checkImage(ok), undefined, ok);
  }
  assert.match(checkImage('Example.com/web')!, /^invalid image "Example.com\/web": ACIdentifier must contain only lower case/);
  assert.match(checkImage('example.com/web:1:2')!, /colon may appear at most once; write the image as NAME\[:VERSION\]/);
  assert.match(checkImage('example.com/web,os')!, /has a label without a value: os/);
});

test('memory sizes: bytes with K, M, G or T', () => {
  assert.deepEqual(['512', '64K', '128M', '1G', '2T'].map(parseSize), [512, 64 * 1024, 128 * 2 ** 20, 2 ** 30, 2 * 2 ** 40]);
  for (const bad of ['128MB', '1.5G', '-1M', 'lots', '1g', '0']) assert.ok(checkMemory(bad), bad);
  assert.deepEqual(container('      memory: 128MB\n'), [
    'line 6: error: invalid memory size "128MB": write a whole number of bytes with an optional K, M, G or T suffix (powers of 1024), e.g. 128M or 1G']);
});

test('cpu: a percentage of one CPU', () => {
  assert.deepEqual(['50%', '200%', '1%'].map(parseCpuPercent), [50, 200, 1]);
  for (const bad of ['0%', '50', 'half', '1.5%', '-5%']) assert.ok(checkCpu(bad), bad);
  assert.deepEqual(container('      cpu: 0.5\n'), [
    'line 6: error: invalid cpu "0.5": write a percentage of one CPU above 0, e.g. 50% (200% is two whole CPUs)']);
});

test('restart, isolation, protocol: fixed sets, named in the message', () => {
  assert.deepEqual(container('      restart: sometimes\n      isolation: docker\n      ports: [{host: 80, protocol: sctp}]\n'), [
    'line 6: error: invalid restart policy "sometimes": use one of no, on-success, on-failure, on-abnormal, on-watchdog, on-abort, always (as systemd\'s Restart=)',
    'line 7: error: invalid isolation "docker": use one of nspawn, fly (nspawn: a container with its own namespaces; fly: a chroot sandbox on the host, like rkt fly)',
    'line 8: error: invalid protocol "sctp": use one of tcp, udp',
  ]);
});

test('ports, users, groups, private users, paths', () => {
  assert.equal(checkPort(1), undefined);
  assert.equal(checkPort(65535), undefined);
  assert.equal(checkPort(0), 'invalid port 0: use a port number from 1 to 65535');
  assert.ok(checkPort(65536));
  assert.equal(checkUserOrGroup('user')('www-data'), undefined);
  assert.equal(checkUserOrGroup('group')('1000'), undefined);
  assert.equal(checkUserOrGroup('user')('bad user'), 'invalid user "bad user": use a user name such as "nobody" or a numeric id');
  for (const ok of ['yes', 'no', 'true', 'false', 'pick', 'identity', '65536', '65536:65536']) assert.equal(checkPrivateUsers(ok), undefined, ok);
  assert.ok(checkPrivateUsers('auto'));
  assert.deepEqual(container('      volumes: [{host: data, path: /data}]\n      working-directory: srv\n'), [
    'line 6: error: invalid volume host path "data": it must be an absolute path, e.g. /var/lib/web',
    'line 7: error: invalid working directory "srv": it must be an absolute path, e.g. /var/lib/web',
  ]);
});

test('environment: variable names, values of any scalar', () => {
  assert.deepEqual(container('      environment:\n        GOOD_1: 1\n        1BAD: x\n        with-dash: y\n        nested: {a: b}\n'), [
    'line 10: error: incorrect type for "nested" (want string)',
    'line 8: error: invalid environment variable name "1BAD": use letters, digits and "_", not starting with a digit, e.g. LOG_LEVEL',
    'line 9: error: invalid environment variable name "with-dash": use letters, digits and "_", not starting with a digit, e.g. LOG_LEVEL',
  ]);
});

test('images: a cron expression and a window', () => {
  const entries = ruleReport('#cloud-config\nhost-agent:\n  images:\n    check: "0 */6 * *"\n    window:\n      start: Someday 03:00\n      length: 2 hours\n');
  assert.equal(entries.length, 3);
  assert.match(entries[0]!, /^line 4: error: invalid cron expression "0 \*\/6 \* \*": expected 5 or 6 fields but got 4; accepted forms: /);
  assert.match(entries[1]!, /^line 6: error: invalid window start "Someday 03:00": "Someday" is not a day of the week; accepted forms: /);
  assert.match(entries[2]!, /^line 7: error: invalid duration "2 hours": .*; accepted forms: Go durations/);
  assert.deepEqual(ruleReport('#cloud-config\nhost-agent:\n  images:\n    window: {start: "03:00", length: 0s}\n'), [
    'line 4: error: invalid window length "0s": it must be greater than zero; accepted forms: Go durations, numbers with units h, m, s, ms, us, ns, e.g. "1h", "1h30m", "90m", "45s", "1.5h"']);
  assert.deepEqual(ruleReport('#cloud-config\nhost-agent:\n  images:\n    check: "@daily"\n    window: {start: "Sun 03:00", length: 90m}\n'), []);
});

test('trust: a prefix that is an AC Identifier, an armored public key', () => {
  assert.equal(checkArmoredKey('-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQINBF…'), undefined);
  assert.deepEqual(ruleReport('#cloud-config\nhost-agent:\n  trust:\n    - prefix: Example.com\n      key: "ssh-rsa AAAA"\n'), [
    'line 4: error: invalid trust prefix "Example.com": ACIdentifier must contain only lower case alphanumeric characters plus "-._~/"; use an image name or a prefix of one, e.g. example.com/web',
    'line 5: error: invalid key: it must be an ASCII-armored OpenPGP public key beginning with "-----BEGIN PGP PUBLIC KEY BLOCK-----"; export one with "gpg --armor --export KEYID"',
  ]);
});

test('our section is strict: unknown keys, misplaced keys and types are errors; "-" as "_"', () => {
  assert.deepEqual(ruleReport(`#cloud-config
host-agent:
  containers:
    - name: web
      image: example.com/web
      auto-update: maybe
      read-only: true
      ports: 8080
  image: {}
`), [
    'line 6: error: incorrect type for "auto_update" (want bool)',
    'line 7: error: misplaced key "read-only" in host-agent.containers[]: it belongs in host-agent.containers[].volumes[] or host-agent.containers[].apps[].volumes[] (check its indentation)',
    'line 8: error: incorrect type for "ports" (want []struct): write each item as a map of host, container, protocol',
    'line 9: error: unrecognized key "image" in host-agent: did you mean "images"?',
  ]);
  assert.deepEqual(ruleReport('#cloud-config\nhost_agent:\n  containers:\n    - {name: web, image: example.com/web, auto_update: true}\n'), []);
});
