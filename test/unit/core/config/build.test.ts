/**
 * The typed HostConfig: every section read with its defaults, and the checks that need the
 * whole (merged) item: required names, unit and drop-in file names, windows given whole.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { lines, report, validate } from './helpers.js';

const cc = (body: string) => `#cloud-config\n${body}`;

test('the full standard sections, typed', () => {
  const gz = gzipSync('compressed\n').toString('base64');
  const result = validate(cc(`hostname: web-1.example.com
ssh_authorized_keys: [ssh-ed25519 AAAA one, ssh-ed25519 BBBB two]
manage_etc_hosts: localhost
users:
  - name: elroy
    passwd: "$6$x"
    gecos: Elroy Jetson
    homedir: /home/elroy
    no-create-home: true
    primary-group: jetsons
    groups: [sudo, docker]
    no-user-group: true
    system: true
    no-log-init: true
    shell: /bin/zsh
    ssh-authorized-keys: [ssh-ed25519 CCCC elroy]
write_files:
  - path: /etc/plain
    content: plain
  - path: /etc/b64
    encoding: b64
    permissions: "0600"
    owner: core:core
    content: aGVsbG8K
  - path: /etc/gz
    encoding: gzip+base64
    permissions: 755
    content: ${gz}
  - path: /etc/bin
    content: !!binary AAEC
coreos:
  update: {reboot-strategy: etcd-lock, group: stable, server: "https://updates.example.com"}
  locksmith:
    endpoint: http://127.0.0.1:2379
    group: web
    window-start: Thu 04:00
    window-length: 1h
    etcd_cafile: /etc/ca.pem
    etcd-certfile: /etc/cert.pem
    etcd_keyfile: /etc/key.pem
    etcd_username: u
    etcd_password: p
  flannel: {etcd-endpoints: "http://127.0.0.1:2379", interface: eth0}
  oem: {id: qemu, name: QEMU, version-id: 1, home-url: "https://qemu.org", bug-report-url: "https://qemu.org/bugs"}
  units:
    - name: web.service
      runtime: true
      enable: true
      command: reload-or-restart
      content: "[Service]\\nExecStart=/bin/web\\n"
      drop-ins: [{name: 50-x.conf, content: "[Service]\\nNice=1\\n"}]
    - name: ntpd.service
      mask: true
`), '/etc/host-agent/cloud-config.yaml');
  assert.deepEqual(result.entries, []);
  const c = result.config!;
  assert.equal(c.hostname, 'web-1.example.com');
  assert.deepEqual(c.sshAuthorizedKeys, ['ssh-ed25519 AAAA one', 'ssh-ed25519 BBBB two']);
  assert.equal(c.manageEtcHosts, 'localhost');
  assert.deepEqual(c.users, [{
    name: 'elroy', passwd: '$6$x', sshAuthorizedKeys: ['ssh-ed25519 CCCC elroy'], gecos: 'Elroy Jetson', homedir: '/home/elroy',
    noCreateHome: true, primaryGroup: 'jetsons', groups: ['sudo', 'docker'], noUserGroup: true, system: true, noLogInit: true,
    shell: '/bin/zsh', origin: { file: '/etc/host-agent/cloud-config.yaml', line: 6 },
  }]);
  assert.deepEqual(c.writeFiles.map((f) => [f.path, Buffer.from(f.content).toString('hex'), f.permissions, f.owner]), [
    ['/etc/plain', Buffer.from('plain').toString('hex'), 0o644, undefined],
    ['/etc/b64', Buffer.from('hello\n').toString('hex'), 0o600, 'core:core'],
    ['/etc/gz', Buffer.from('compressed\n').toString('hex'), 0o755, undefined],
    ['/etc/bin', '000102', 0o644, undefined],
  ]);
  assert.deepEqual(c.update, { rebootStrategy: 'etcd-lock', group: 'stable', server: 'https://updates.example.com' });
  assert.deepEqual(c.locksmith, {
    endpoint: 'http://127.0.0.1:2379', group: 'web',
    window: { start: 'Thu 04:00', length: '1h', window: { start: { weekday: 4, hour: 4, minute: 0 }, lengthMs: 3_600_000 } },
    etcdCaFile: '/etc/ca.pem', etcdCertFile: '/etc/cert.pem', etcdKeyFile: '/etc/key.pem', etcdUsername: 'u', etcdPassword: 'p',
  });
  assert.deepEqual(c.flannel, { etcd_endpoints: 'http://127.0.0.1:2379', interface: 'eth0' });
  assert.deepEqual(c.oem, { id: 'qemu', name: 'QEMU', versionId: '1', homeUrl: 'https://qemu.org', bugReportUrl: 'https://qemu.org/bugs' });
  assert.deepEqual(c.units.map(({ origin: _, ...u }) => u), [
    { name: 'web.service', content: '[Service]\nExecStart=/bin/web\n', runtime: true, enable: true, mask: false,
      command: 'reload-or-restart', dropIns: [{ name: '50-x.conf', content: '[Service]\nNice=1\n' }] },
    { name: 'ntpd.service', runtime: false, enable: false, mask: true, dropIns: [] },
  ]);
});

test('defaults of an empty configuration', () => {
  assert.deepEqual(validate(cc('')).config, {
    sshAuthorizedKeys: [], users: [], writeFiles: [], units: [], update: {}, locksmith: {}, flannel: {}, oem: {},
    containers: [], rejectedContainers: [], images: {}, trust: [], networks: [],
  });
});

test('our section, typed, with its defaults', () => {
  const result = validate(cc(`host-agent:
  containers:
    - name: web
      image: example.com/web:1.4.0
      exec: [/bin/httpd, -f, -p, 8080]
      environment: {GREETING: hello, PORT: 8080, __proto__: x}
      volumes: [{host: /var/lib/web, path: /data, read-only: true}, {host: /srv, path: /srv}]
      memory: 1G
      cpu: 150%
      restart: always
      isolation: fly
      auto-update: true
      user: www-data
      group: "33"
      working-directory: /data
      ports: [{host: 8080, container: 80, protocol: udp}, {host: 9090}]
      private-users: true
    - name: db
      image: example.com/db,version=2.0,os=linux
  images:
    check: "0 */6 * * *"
    window: {start: "Sun 03:00", length: 2h}
  trust:
    - prefix: example.com
      key: |
        -----BEGIN PGP PUBLIC KEY BLOCK-----
        abc
`));
  assert.deepEqual(result.entries, []);
  const [web, db] = result.config!.containers;
  assert.deepEqual({ ...web, origin: undefined }, {
    name: 'web', image: { name: 'example.com/web', labels: { version: '1.4.0' } }, imageText: 'example.com/web:1.4.0',
    exec: ['/bin/httpd', '-f', '-p', '8080'],
    environment: Object.fromEntries([['GREETING', 'hello'], ['PORT', '8080'], ['__proto__', 'x']]),
    volumes: [{ host: '/var/lib/web', path: '/data', readOnly: true }, { host: '/srv', path: '/srv', readOnly: false }],
    memoryBytes: 2 ** 30, cpuPercent: 150, restart: 'always', isolation: 'fly', autoUpdate: true,
    user: 'www-data', group: '33', workingDirectory: '/data',
    ports: [{ host: 8080, container: 80, protocol: 'udp' }, { host: 9090, container: 9090, protocol: 'tcp' }],
    privateUsers: 'yes', dns: [], origin: undefined,
  });
  assert.deepEqual({ ...db, origin: undefined }, {
    name: 'db', image: { name: 'example.com/db', labels: { version: '2.0', os: 'linux' } },
    imageText: 'example.com/db,version=2.0,os=linux', environment: {}, volumes: [], restart: 'no', isolation: 'nspawn',
    autoUpdate: false, ports: [], dns: [], origin: undefined,
  });
  assert.deepEqual(result.config!.images, {
    check: '0 */6 * * *',
    window: { start: 'Sun 03:00', length: '2h', window: { start: { weekday: 0, hour: 3, minute: 0 }, lengthMs: 7_200_000 } },
  });
  assert.deepEqual(result.config!.trust.map((t) => [t.prefix, t.key]), [
    ['example.com', '-----BEGIN PGP PUBLIC KEY BLOCK-----\nabc\n']]);
});

test('required names and paths', () => {
  // Items of coreos-cloudinit's sections without their name are skipped, as it skipped them.
  const skipped = validate(cc('coreos:\n  units:\n    - command: start\n    - name: a.service\n      drop-ins: [{content: x}]\n'
    + 'write_files:\n  - content: hi\nusers:\n  - groups: [a]\n'));
  assert.deepEqual(skipped.entries, []);
  assert.deepEqual(skipped.config!.units.map((u) => [u.name, u.dropIns.length]), [['a.service', 0]]);
  assert.deepEqual([skipped.config!.writeFiles, skipped.config!.users], [[], []]);
  assert.deepEqual(report(cc('host-agent:\n  containers:\n    - image: example.com/web\n')), [
    'line 4: error: a container has no "name"; e.g. name: web']);
  assert.deepEqual(report(cc('host-agent:\n  trust:\n    - prefix: example.com\n')), [
    'line 4: error: a trust entry has no "key"; e.g. key: "-----BEGIN PGP PUBLIC KEY BLOCK-----…"']);
  assert.deepEqual(report(cc('host-agent:\n  containers:\n    - name: web\n      image: example.com/web\n      volumes: [{host: /a}]\n      ports: [{container: 80}]\n')), [
    'line 6: error: a volume of container "web" has no "path"; e.g. path: /data',
    'line 7: error: a port of container "web" has no "host"; e.g. {host: 8080, container: 80}']);
});

test('unit and drop-in names are file names of the right kind (no paths)', () => {
  for (const bad of ['web', '../../etc/passwd.service', 'a/b.service', 'web.exe', 'web service.service']) {
    assert.deepEqual(report(cc(`coreos:\n  units:\n    - name: "${bad}"\n`)), [
      `line 4: error: invalid unit name "${bad}": use a unit file name with its type, e.g. web.service or backup.timer`]);
  }
  for (const ok of ['web.service', 'getty@tty1.service', 'backup.timer', 'var-lib.mount', 'x\\x2dy.slice']) {
    assert.deepEqual(report(cc(`coreos:\n  units:\n    - name: '${ok}'\n`)), [], ok);
  }
  for (const bad of ['50-x', '../x.conf', '.hidden.conf', 'a/b.conf']) {
    assert.deepEqual(report(cc(`coreos:\n  units:\n    - name: a.service\n      drop-ins: [{name: "${bad}"}]\n`)), [
      `line 5: error: invalid drop-in name "${bad}": use a file name ending in .conf, e.g. 50-limits.conf`]);
  }
});

test('hostname and manage_etc_hosts are checked', () => {
  assert.deepEqual(report(cc('hostname: "bad name"\n')), [
    'line 2: error: invalid hostname "bad name": it must be one word (no blanks, control characters or "/") of at most 64 characters, e.g. web-1.example.com']);
  assert.deepEqual(report(cc('hostname: node_1\n')), [], 'hostnamed judges the characters when the hostname is set');
  assert.equal(report(cc(`hostname: ${'a'.repeat(65)}\n`)).length, 1);
  assert.deepEqual(report(cc('manage_etc_hosts: yes-please\n')), [
    'line 2: error: unsupported manage_etc_hosts value "yes-please": only "localhost" is supported']);
});

test('windows: both keys or neither, and a length shorter than the period', () => {
  assert.deepEqual(report(cc('coreos:\n  locksmith:\n    window-start: "04:00"\n')), [
    'line 4: error: a window needs both "window_start" and "window_length", e.g. "Sun 03:00" and "2h"']);
  assert.deepEqual(report(cc('host-agent:\n  images:\n    window: {length: 1h}\n')), [
    'line 4: error: a window needs both "start" and "length", e.g. "Sun 03:00" and "2h"']);
  const daily = report(cc('coreos:\n  locksmith:\n    window-start: "04:00"\n    window-length: 25h\n'));
  assert.equal(daily.length, 1);
  assert.match(daily[0]!, /^line 4: error: invalid window length "25h": it must be shorter than a day/);
});

test('exec must begin with an absolute path or a bare program name (looked up on PATH)', () => {
  assert.deepEqual(report(cc('host-agent:\n  containers:\n    - name: web\n      image: example.com/web\n      exec: [./httpd, -f]\n')), [
    'line 6: error: the exec of container "web" must begin with an absolute path or a program name looked up on PATH, e.g. [/bin/httpd, -f] or [httpd, -f]']);
  assert.deepEqual(report(cc('host-agent:\n  containers:\n    - name: web\n      image: example.com/web\n      exec: [httpd, -f]\n')), []);
  assert.equal(report(cc('host-agent:\n  containers:\n    - name: web\n      image: example.com/web\n      exec: []\n')).length, 1);
});

test('host-agent.update: the update protocol and the Omaha app id go with coreos.update', () => {
  const result = validate(cc(`coreos:
  update: {server: "https://nebraska.example.com/v1/update/", group: beta}
host-agent:
  update:
    protocol: omaha
    app-id: "{11111111-2222-3333-4444-555555555555}"
`));
  assert.deepEqual(result.entries, []);
  assert.deepEqual(result.config!.update, {
    server: 'https://nebraska.example.com/v1/update/', group: 'beta', protocol: 'omaha', appId: '{11111111-2222-3333-4444-555555555555}',
  });
  assert.deepEqual(report(cc('host-agent:\n  update:\n    protocol: http\n    app-id: flatcar\n')), [
    'line 4: error: invalid update protocol "http": use one of omaha, release (omaha: an Omaha 3.0 server such as Nebraska; release: the signed release.json channel)',
    'line 5: error: invalid Omaha app id "flatcar": use a GUID such as {e96281a6-d1af-4bde-9a0a-97b76e56dc57}',
  ]);
});

test('a host port forwarded by two containers refuses the configuration, naming both; another protocol or port is fine', () => {
  const two = (second: string) => cc(`host-agent:\n  containers:\n    - name: a\n      image: example.com/a\n      ports: [{host: 8080, container: 80}]\n`
    + `    - name: b\n      image: example.com/b\n      ports: [${second}]\n`);
  const shared = validate(two('{host: 8080, container: 81}'));
  assert.equal(shared.config, undefined, 'the configuration is refused whole');
  assert.deepEqual(lines(shared), [
    'line 9: error: host port 8080/tcp of container "b" is already forwarded by container "a": give one of them another host port, e.g. {host: 8081, container: 81}']);
  assert.deepEqual(report(two('{host: 8080, container: 80, protocol: udp}')), []);
  assert.deepEqual(report(two('{host: 8081, container: 80}')), []);
});

test('image: docker://… is an OCI reference; a bad one is refused naming the line and the form', () => {
  const ok = validate(cc('host-agent:\n  containers:\n    - name: web\n      image: docker://127.0.0.1:5000/team/app:1.0\n      auto-update: true\n'));
  assert.deepEqual(ok.entries, []);
  const web = ok.config!.containers[0]!;
  assert.deepEqual(web.image, { registry: '127.0.0.1:5000', repository: 'team/app', tag: '1.0' });
  assert.equal(web.imageText, 'docker://127.0.0.1:5000/team/app:1.0');
  const bad = report(cc('host-agent:\n  containers:\n    - name: web\n      image: docker://quay.io/Team/app\n'));
  assert.equal(bad.length, 1);
  assert.match(bad[0]!, /^line 5: error: invalid image "docker:\/\/quay\.io\/Team\/app": the repository name must be lowercase; give an image reference as \[docker:\/\/\]HOST/);
});
