/**
 * users[]: the agent creates them, so a name and its groups must be valid login names and
 * passwd a crypt hash; each error names the fix and is reported at the value's line.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkGroupName, checkLoginName, checkPasswordHash } from '../../../../agent/core/config/checks.js';
import { ruleReport, validate } from './helpers.js';

const HASH = '$6$5s2u6/jR$un0AvWnqilcgaNB3Mkxd5yYv6mTlWfOoCYHZmfi3LDKVltj.E8XNKEcwWm...';
const user = (fields: string): string[] => ruleReport(`#cloud-config\nusers:\n  - name: elroy\n${fields}`);

test('user names are login names', () => {
  for (const ok of ['elroy', '_svc', 'build-agent2', 'host$', 'a'.repeat(32)]) assert.equal(checkLoginName(ok), undefined, ok);
  for (const bad of ['Elroy', '2fast', '-x', 'el roy', 'a:b', 'a'.repeat(33), 'x$y', '']) assert.ok(checkLoginName(bad), bad);
  assert.deepEqual(ruleReport('#cloud-config\nusers:\n  - name: Elroy\n'), [
    'line 3: error: invalid user name "Elroy": use lower-case letters, digits, "_" and "-", starting with a letter or "_" (a final "$" is allowed), at most 32 characters, e.g. "elroy"',
  ]);
});

test('groups and primary_group are group names or numeric ids', () => {
  for (const ok of ['docker', 'sudo', '100']) assert.equal(checkGroupName(ok), undefined, ok);
  assert.deepEqual(user('    primary_group: Staff\n    groups: [sudo, "wheel users"]\n'), [
    'line 4: error: invalid group "Staff": use a group name of lower-case letters, digits, "_" and "-", starting with a letter or "_" (a final "$" is allowed), at most 32 characters, e.g. "docker", or a numeric id',
    'line 5: error: invalid group "wheel users": use a group name of lower-case letters, digits, "_" and "-", starting with a letter or "_" (a final "$" is allowed), at most 32 characters, e.g. "docker", or a numeric id',
  ]);
});

test('passwd is a crypt hash or a locked password, never the password itself', () => {
  for (const ok of [HASH, '$y$j9T$abc$def', '$6$rounds=5000$salt$hash', '$2b$12$abcdefghijk', '*', '!', '!!', `!${HASH}`]) {
    assert.equal(checkPasswordHash(ok), undefined, ok);
  }
  for (const bad of ['hunter2', '$6$', '$6$a:b', ' $6$a$b', 'x$6$a$b']) assert.ok(checkPasswordHash(bad), bad);
  assert.deepEqual(user('    passwd: hunter2\n'), [
    'line 4: error: invalid passwd: it must be a password hash, not the password itself; make one with "mkpasswd -m sha-512" (or "*" for no password login)',
  ]);
});

test('the reference example validates and builds every field', () => {
  const r = validate(`#cloud-config
users:
  - name: "elroy"
    passwd: "${HASH}"
    gecos: Elroy Jetson
    homedir: /home/elroy
    no-create-home: true
    primary-group: staff
    groups:
      - "sudo"
      - "docker"
    no-user-group: true
    system: true
    no-log-init: true
    shell: /bin/bash
    ssh-authorized-keys:
      - "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC0g+ZTxC7weoIJLUafOgrm+h..."
`);
  assert.deepEqual(r.entries, []);
  const { origin, ...u } = r.config!.users[0]!;
  assert.equal(origin.line, 3);
  assert.deepEqual(u, {
    name: 'elroy', passwd: HASH, gecos: 'Elroy Jetson', homedir: '/home/elroy', noCreateHome: true, primaryGroup: 'staff',
    groups: ['sudo', 'docker'], noUserGroup: true, system: true, noLogInit: true, shell: '/bin/bash',
    sshAuthorizedKeys: ['ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC0g+ZTxC7weoIJLUafOgrm+h...'],
  });
});

test('an empty passwd means no password is set', () => {
  const r = validate('#cloud-config\nusers:\n  - name: dev\n    passwd: ""\n');
  assert.deepEqual(r.entries, []);
  assert.equal(r.config!.users[0]!.passwd, undefined);
});
