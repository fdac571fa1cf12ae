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
  return { files: new Map(), owners: new Map([['core', { uid: 500, gid: 500 }]]), hostname: 'old', sshKeys: [], sshUser: 'core', units: new Map() };
}

/** What the executor would leave behind: the observation after the steps ran. */
function simulate(host: ObservedHost, steps: Step[]): ObservedHost {
  const next: ObservedHost = { ...host, files: new Map(host.files), units: new Map([...host.units].map(([k, v]) => [k, { ...v, dropIns: [...v.dropIns] }])) };
  const unit = (name: string): ObservedUnit => {
    if (!next.units.has(name)) next.units.set(name, { dropIns: [], unitFileState: '', activeState: 'inactive' });
    return next.units.get(name)!;
  };
  for (const s of steps) {
    switch (s.kind) {
      case 'write-file': next.files.set(s.path, { content: s.content, mode: s.mode, uid: s.owner ? 500 : 0, gid: s.owner ? 500 : 0 }); break;
      case 'set-hostname': next.hostname = s.hostname; break;
      case 'write-ssh-keys': next.sshKeys = s.keys; break;
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
