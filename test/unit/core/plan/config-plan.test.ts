import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import { validateText } from '../../../../agent/core/config/validate.js';
import type { HostConfig } from '../../../../agent/core/config/types.js';
import { planHostConfig, type ObservedHost, type ObservedUnit } from '../../../../agent/core/plan/config-plan.js';
import { describeStep, type Step } from '../../../../agent/core/plan/steps.js';
import { withMarker, markerOf } from '../../../../agent/core/plan/unit-text.js';

function config(yaml: string): HostConfig {
  const r = validateText(yaml, { gunzip: (b) => gunzipSync(b) });
  assert.ok(r.config, JSON.stringify(r.entries));
  return r.config;
}

function emptyHost(): ObservedHost {
  return {
    files: new Map(), owners: new Map([['core', { uid: 500, gid: 500 }]]), hostname: 'old',
    accounts: new Map([['core', { passwordHash: '*', sshKeys: [] }]]), sshUser: 'core', units: new Map(),
  };
}

/** What the executor would leave behind: the observation after the steps ran. */
function simulate(host: ObservedHost, steps: Step[]): ObservedHost {
  const next: ObservedHost = {
    ...host, files: new Map(host.files), owners: new Map(host.owners),
    accounts: new Map([...host.accounts].map(([k, v]) => [k, v && { ...v }])), units: new Map([...host.units].map(([k, v]) => [k, { ...v, dropIns: [...v.dropIns] }])) };
  const unit = (name: string): ObservedUnit => {
    if (!next.units.has(name)) next.units.set(name, { dropIns: [], unitFileState: '', activeState: 'inactive' });
    return next.units.get(name)!;
  };
  for (const s of steps) {
    switch (s.kind) {
      case 'write-file': next.files.set(s.path, { content: s.content, mode: s.mode, uid: s.owner ? 500 : 0, gid: s.owner ? 500 : 0 }); break;
      case 'set-hostname': next.hostname = s.hostname; break;
      case 'create-user':
        next.accounts.set(s.user.name, { passwordHash: s.user.passwd ?? '*', sshKeys: [] });
        next.owners.set(s.user.name, { uid: 500, gid: 500 });
        break;
      case 'set-password': next.accounts.get(s.user)!.passwordHash = s.hash; break;
      case 'write-ssh-keys': next.accounts.get(s.user)!.sshKeys = s.keys; break;
      case 'write-unit': unit(s.unit).file = { runtime: s.runtime, text: s.text }; break;
      case 'remove-unit': delete unit(s.unit).file; break;
      case 'write-dropin': { const u = unit(s.unit); u.dropIns = [...u.dropIns.filter((d) => d.name !== s.name), { name: s.name, runtime: s.runtime, text: s.text }]; break; }
      case 'remove-dropin': { const u = unit(s.unit); u.dropIns = u.dropIns.filter((d) => d.name !== s.name); break; }
      case 'mask': unit(s.unit).unitFileState = 'masked'; break;
      case 'unmask': unit(s.unit).unitFileState = 'disabled'; break;
      case 'enable': unit(s.unit).unitFileState = 'enabled'; break;
      case 'disable': unit(s.unit).unitFileState = 'disabled'; break;
      case 'daemon-reload': break;
      case 'unit-job': unit(s.unit).activeState = s.command === 'stop' ? 'inactive' : 'active'; break;
    }
  }
  return next;
}

const TWO_UNITS = `#cloud-config
hostname: web-1
write_files:
  - path: /etc/motd
    content: hello
  - path: /etc/owned
    owner: core
    permissions: "0600"
    content: secret
ssh_authorized_keys:
  - ssh-ed25519 AAAA test@example
coreos:
  units:
    - name: a.service
      command: start
      enable: true
      content: |
        [Unit]
        Description=A
        [Service]
        ExecStart=/bin/sleep 600
        [Install]
        WantedBy=default.target
      drop-ins:
        - name: 10-env.conf
          content: |
            [Service]
            Environment=X=1
    - name: b.service
      command: start
      content: |
        [Service]
        ExecStart=/bin/sleep 600
    - name: c.service
      mask: true
`;

test('a fresh host: files, hostname, keys, units, one reload, enable, then the starts', () => {
  const plan = planHostConfig(config(TWO_UNITS), undefined, emptyHost());
  assert.deepEqual(plan.problems, []);
  assert.deepEqual(plan.steps.map(describeStep), [
    'write /etc/motd (5 bytes, mode 0644)',
    'write /etc/owned (6 bytes, mode 0600, owner core)',
    'set the hostname to web-1',
    'write 1 SSH authorized key(s) for core',
    'write unit a.service',
    'write drop-in a.service.d/10-env.conf',
    'write unit b.service',
    'mask c.service',
    'reload systemd',
    'enable a.service',
    'start a.service (not running)',
    'start b.service (not running)',
  ]);
});

test('planning again after applying gives no steps', () => {
  const desired = config(TWO_UNITS);
  const first = planHostConfig(desired, undefined, emptyHost());
  const after = simulate(emptyHost(), first.steps);
  assert.deepEqual(planHostConfig(desired, desired, after).steps, []);
});

test('a changed unit restarts only that unit', () => {
  const before = config(TWO_UNITS);
  const host = simulate(emptyHost(), planHostConfig(before, undefined, emptyHost()).steps);
  const edited = config(TWO_UNITS.replace('Environment=X=1', 'Environment=X=2'));
  assert.deepEqual(planHostConfig(edited, before, host).steps.map(describeStep), [
    'write drop-in a.service.d/10-env.conf',
    'reload systemd',
    'restart a.service (its files changed)',
  ]);
});

test('a unit removed from the config is stopped and its files removed; an unmasked one unmasked', () => {
  const before = config(TWO_UNITS);
  const host = simulate(emptyHost(), planHostConfig(before, undefined, emptyHost()).steps);
  const after = config(TWO_UNITS.replace(/    - name: b\.service[\s\S]*$/, ''));
  assert.deepEqual(planHostConfig(after, before, host).steps.map(describeStep), [
    'stop b.service (removed from the config)',
    'remove unit b.service',
    'unmask c.service',
    'reload systemd',
  ]);
});

test('units the agent did not write are left alone', () => {
  const host = emptyHost();
  host.units.set('admin.service', { dropIns: [], unitFileState: 'enabled', activeState: 'active' });
  const plan = planHostConfig(config('#cloud-config\ncoreos:\n  units: []\n'), undefined, host);
  assert.deepEqual(plan.steps, []);
});

test('an unknown owner is a problem; the other files are still planned', () => {
  const host = emptyHost();
  host.owners.clear();
  const plan = planHostConfig(config(TWO_UNITS), undefined, host);
  assert.match(plan.problems[0]!, /owner "core" does not exist/);
  assert.ok(plan.steps.some((s) => s.kind === 'write-file' && s.path === '/etc/motd'));
  assert.ok(!plan.steps.some((s) => s.kind === 'write-file' && s.path === '/etc/owned'));
});

test('commands: stop only when running, reload only when changed and running', () => {
  const yaml = (cmd: string): string => `#cloud-config\ncoreos:\n  units:\n    - name: x.service\n      command: ${cmd}\n`;
  const running = emptyHost();
  running.units.set('x.service', { dropIns: [], unitFileState: 'static', activeState: 'active' });
  assert.deepEqual(planHostConfig(config(yaml('stop')), undefined, running).steps.map(describeStep), ['stop x.service (running)']);
  assert.deepEqual(planHostConfig(config(yaml('stop')), undefined, emptyHost()).steps, []);
  assert.deepEqual(planHostConfig(config(yaml('reload')), undefined, running).steps, []);
  assert.deepEqual(planHostConfig(config(yaml('restart')), undefined, emptyHost()).steps.map(describeStep), ['restart x.service (not running)']);
});

test('the marker goes into [Unit], or a [Unit] section is added', () => {
  const withUnit = withMarker('[Unit]\nDescription=A\n[Service]\nExecStart=/bin/true', 'cloud-config');
  assert.match(withUnit, /^# Written by host-agent/);
  assert.match(withUnit, /\[Unit\]\nX-HostAgent-Source=cloud-config\nDescription=A\n/);
  assert.equal(markerOf(withUnit), 'cloud-config');
  const without = withMarker('[Service]\nEnvironment=X=1\n', 'container:web');
  assert.match(without, /\[Unit\]\nX-HostAgent-Source=container:web\n\n\[Service\]/);
  assert.equal(markerOf('[Service]\nExecStart=/bin/true\n'), undefined);
});

const HASH = '$6$5s2u6/jR$un0AvWnqilcgaNB3Mkxd5yYv6mTlWfOoCYHZmfi3LDKVltj.E8XNKEcwWm';
const USERS = `#cloud-config
ssh_authorized_keys:
  - ssh-ed25519 AAAA top@example
users:
  - name: elroy
    passwd: "${HASH}"
    gecos: Elroy Jetson
    groups: [sudo, docker]
    shell: /bin/bash
    ssh_authorized_keys:
      - ssh-ed25519 BBBB elroy@example
  - name: core
    ssh_authorized_keys:
      - ssh-ed25519 AAAA top@example
      - ssh-ed25519 CCCC core@example
write_files:
  - path: /home/elroy/notes
    owner: elroy
    content: hi
`;

test('users: created first, then files they own and their keys; the hash is never shown', () => {
  const plan = planHostConfig(config(USERS), undefined, emptyHost());
  assert.deepEqual(plan.problems, []);
  const lines = plan.steps.map(describeStep);
  assert.deepEqual(lines, [
    'create user elroy (comment "Elroy Jetson", groups sudo,docker, shell /bin/bash, password from cloud-config)',
    'write /home/elroy/notes (2 bytes, mode 0644, owner elroy)',
    'write 2 SSH authorized key(s) for core',
    'write 1 SSH authorized key(s) for elroy',
  ]);
  assert.ok(lines.every((l) => !l.includes(HASH) && !l.includes('$6$')));
  const create = plan.steps[0]!;
  assert.equal(create.kind === 'create-user' && create.user.passwd, HASH);
});

test('users: planning again after applying gives no steps', () => {
  const desired = config(USERS);
  const after = simulate(emptyHost(), planHostConfig(desired, undefined, emptyHost()).steps);
  const again = planHostConfig(desired, desired, after);
  assert.deepEqual(again.steps, []);
  assert.deepEqual(again.problems, []);
});

test('a user that exists keeps its creation-time fields; only a differing hash is set', () => {
  const host = emptyHost();
  host.accounts.set('elroy', { passwordHash: '!', sshKeys: ['ssh-ed25519 BBBB elroy@example'] });
  host.owners.set('elroy', { uid: 1001, gid: 1001 });
  host.accounts.set('core', { passwordHash: '*', sshKeys: ['ssh-ed25519 AAAA top@example', 'ssh-ed25519 CCCC core@example'] });
  const plan = planHostConfig(config(USERS), undefined, host);
  assert.deepEqual(plan.steps.map(describeStep), [
    'set the password of elroy (hash from cloud-config)',
    'write /home/elroy/notes (2 bytes, mode 0644, owner elroy)',
  ]);
  assert.deepEqual(plan.notes, ['user elroy exists: its creation-time fields (gecos, groups, shell) are left as they are']);
  host.accounts.get('elroy')!.passwordHash = HASH;
  assert.ok(!planHostConfig(config(USERS), undefined, host).steps.some((s) => s.kind === 'set-password'));
});

test('a user without passwd gets no password step; one without fields gets no note', () => {
  const host = emptyHost();
  host.accounts.set('dev', { passwordHash: '!', sshKeys: [] });
  const plan = planHostConfig(config('#cloud-config\nusers:\n  - name: dev\n'), undefined, host);
  assert.deepEqual(plan.steps, []);
  assert.deepEqual(plan.notes, []);
});

test('creation details: a system user without a home, and one without a password', () => {
  const yaml = `#cloud-config
users:
  - name: svc
    system: true
    no_create_home: true
    homedir: /var/lib/svc
    primary_group: daemon
    no_user_group: true
    no_log_init: true
`;
  assert.deepEqual(planHostConfig(config(yaml), undefined, emptyHost()).steps.map(describeStep), [
    'create user svc (system account, home /var/lib/svc, no home directory created, primary group daemon, no user group, no password (SSH keys only))',
  ]);
});

test('users removed from the config are not deleted; their agent keys are cleared', () => {
  const before = config(USERS);
  const host = simulate(emptyHost(), planHostConfig(before, undefined, emptyHost()).steps);
  const after = config('#cloud-config\nssh_authorized_keys:\n  - ssh-ed25519 AAAA top@example\n');
  const plan = planHostConfig(after, before, host);
  assert.deepEqual(plan.steps.map(describeStep), [
    'write 1 SSH authorized key(s) for core',
    "remove the agent's SSH authorized keys of elroy",
  ]);
  assert.ok(!plan.steps.some((s) => s.kind === 'create-user' || s.kind === 'set-password'));
  assert.deepEqual(planHostConfig(after, after, simulate(host, plan.steps)).steps, []);
});

test('keys for a user that neither exists nor is created are a problem', () => {
  const host = emptyHost();
  host.accounts.set('core', undefined);
  const plan = planHostConfig(config('#cloud-config\nssh_authorized_keys:\n  - ssh-ed25519 AAAA x\n'), undefined, host);
  assert.deepEqual(plan.steps, []);
  assert.deepEqual(plan.problems, ['ssh_authorized_keys: user "core" does not exist on this host']);
});

test('networkd units are files under /etc/systemd/network (or /run); networkd is restarted first of the jobs, only on a change', () => {
  const desired = config(`#cloud-config
coreos:
  units:
    - name: web.service
      command: start
      content: |
        [Service]
        ExecStart=/bin/true
    - name: 00-eth0.network
      content: |
        [Match]
        Name=eth0
      drop-ins:
        - name: 10-mtu.conf
          content: |
            [Link]
            MTUBytes=9000
    - name: 10-eth0.link
      runtime: true
      mask: true
      content: |
        [Match]
        MACAddress=00:11:22:33:44:55
`);
  const p = planHostConfig(desired, undefined, emptyHost());
  assert.deepEqual(p.steps.map(describeStep), [
    'write /etc/systemd/network/00-eth0.network (18 bytes, mode 0644)',
    'write /etc/systemd/network/00-eth0.network.d/10-mtu.conf (21 bytes, mode 0644)',
    'write /run/systemd/network/10-eth0.link (37 bytes, mode 0644)',
    'write unit web.service',
    'reload systemd',
    'restart systemd-networkd.service (its network files changed)',
    'start web.service (not running)',
  ]);
  assert.deepEqual(p.notes, ['10-eth0.link is a systemd-networkd file: mask does not apply to it (systemd-networkd.service is restarted when it changes)']);
  const applied = simulate(emptyHost(), p.steps);
  assert.deepEqual(planHostConfig(desired, desired, applied).steps, []);
  // A file changed by hand (or its mode) is written again, and networkd restarted.
  applied.files.set('/run/systemd/network/10-eth0.link', { ...applied.files.get('/run/systemd/network/10-eth0.link')!, mode: 0o600 });
  assert.deepEqual(planHostConfig(desired, desired, applied).steps.map(describeStep), [
    'write /run/systemd/network/10-eth0.link (37 bytes, mode 0644)',
    'restart systemd-networkd.service (its network files changed)',
  ]);
});
