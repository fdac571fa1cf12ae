/**
 * Golden files: each case renders a spec and compares every unit file with
 * test/fixtures/containers/<case>.<unit>. Run with UPDATE_GOLDEN=1 to rewrite them after an
 * intended change, and review the diff.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import {
  containerOfOrigin, containerUnitName, rootfsUnitName, specHashOf, type RenderedContainer,
} from '../../../../agent/core/containers/render.js';
import { input, render } from './helpers.js';

const FIXTURES = fileURLToPath(new URL('../../../fixtures/containers/', import.meta.url));

async function golden(name: string, rendered: RenderedContainer): Promise<void> {
  for (const file of rendered.files) {
    const path = `${FIXTURES}${name}.${file.name}`;
    if (process.env.UPDATE_GOLDEN === '1') await writeFile(path, file.text);
    assert.equal(file.text, await readFile(path, 'utf8'), `${path} (UPDATE_GOLDEN=1 to rewrite)`);
  }
}

const everything = {
  exec: ['/bin/sh', '-c', 'echo "$GREETING" > /data/out; exec httpd -f -p 8080'],
  environment: { GREETING: 'hello', EXTRA: 'x y' },
  volumes: [{ host: '/srv/web', path: '/data', readOnly: false }, { host: '/etc/ssl/certs', path: '/etc/ssl/certs', readOnly: true }],
  ports: [{ host: 8080, container: 80, protocol: 'tcp' as const }],
  memoryBytes: 128 * 2 ** 20,
  cpuPercent: 50,
  restart: 'always' as const,
  workingDirectory: '/data',
  network: {
    mode: 'macvlan' as const,
    network: { name: 'default', iface: 'hostagent0', subnet: '172.16.28.0/24' },
    dns: ['192.0.2.53'],
  },
};

const cniNetwork = {
  mode: 'cni' as const,
  conflist: { cniVersion: '1.0.0', name: 'lan', plugins: [{ type: 'bridge', bridge: 'lan0', ipam: { type: 'host-local', ranges: [[{ subnet: '10.1.2.0/24' }]] } }] },
  dns: [],
};

const networkHost = {
  helper: ['/usr/bin/node', '/usr/lib/host-agent/dist/agent/net-helper.js'],
  runDir: '/run/host-agent/network',
  netnsDir: '/run/host-agent/netns',
  cniPath: ['/usr/lib/cni'],
};

test('nspawn, image defaults only', async () => {
  const r = render(input());
  assert.equal(r.unit, 'container-web.service');
  assert.deepEqual(r.files.map((f) => f.name), ['container-web.service']);
  assert.deepEqual(r.warnings, []);
  await golden('nspawn-defaults', r);
});

test('nspawn, every field, on a user manager over cgroup v1 with output to a file', async () => {
  const r = render(input(everything, {
    legacyCgroups: { memory: '/sys/fs/cgroup/memory/host-agent', cpu: '/sys/fs/cgroup/cpu/host-agent' },
    outputFile: '/var/lib/host-agent/containers/web/output.log',
    wantedBy: 'machines.target',
    network: networkHost,
  }));
  await golden('nspawn-everything', r);
});

test('networks: host adds nothing, none is --private-network', () => {
  const text = (fields: Parameters<typeof input>[0]): string => render(input(fields, { network: networkHost })).files[0]!.text;
  assert.doesNotMatch(text({ network: { mode: 'host' } }), /ExecStartPre|UnsetEnvironment|nsenter|--private-network|--resolv-conf|--net=/);
  assert.match(text({ network: { mode: 'none' } }), / --private-network /);
});

test('the default network: prepare heads ExecStart, whose unshare makes the namespace, eth0 made before nspawn, down after every end', () => {
  const text = render(input({ network: everything.network, ports: everything.ports }, { network: networkHost })).files[0]!.text;
  const start = /^ExecStart=(.*)$/m.exec(text)![1]!;
  const post = /^ExecStopPost=(.*)$/m.exec(text)![1]!;
  assert.match(start, /^\/bin\/sh -c "set -e\\n/);
  const args = ' web hostagent0 172.16.28.0/24 /run/host-agent/netns/web /run/host-agent/network/ipam/default '
    + '/run/host-agent/network/results/default-web-eth0 /run/host-agent/network/containers/web 192.0.2.53 tcp:8080:80';
  assert.ok(start.includes(` agentd-net-prepare prepare${args} unshare --mount --propagation private --net=/run/host-agent/netns/web -- /bin/sh -c "net_up() {\\n`), start);
  assert.ok(post.endsWith(` agentd-net-down down${args}`), post);
  assert.equal(post.slice(0, post.indexOf(' agentd-net-down')), `-${start.slice(0, start.indexOf(' agentd-net-prepare'))}`, 'down runs the same script');
  assert.doesNotMatch(text, /ExecStartPre|UnsetEnvironment|nsenter|net-helper/, 'no helper process, no nsenter');
  assert.match(text, /net_up \\"\$\$1\\" \\"\$\$2\\"; shift 2; /, 'the launch script runs net_up first');
  assert.match(text, /" container-web hostagent0-p \/run\/host-agent\/network\/containers\/web -- /);
  assert.match(text, / --resolv-conf=off --bind-ro=\/run\/host-agent\/network\/containers\/web.resolv.conf:\/etc\/resolv.conf:idmap --bind-ro=\/run\/host-agent\/network\/containers\/web.hosts:\/etc\/hosts:idmap /);
  assert.throws(() => render(input({ network: everything.network })), /host\.network: a container network needs the host's network settings/);
  assert.throws(() => render(input({ network: { ...everything.network, network: { name: 'default', iface: 'much-too-long-name', subnet: '172.16.28.0/24' } } }, { network: networkHost })),
    /network: the network's host interface "much-too-long-name" must be 1-13/);
  assert.throws(() => render(input({ network: { ...everything.network, dns: ['1.1.1.1; reboot'] } }, { network: networkHost })), /dns\[0\]: a nameserver is an IPv4 or IPv6 address/);
});

test('a CNI network runs the helper around nspawn in its namespace', () => {
  const text = render(input({ network: cniNetwork, ports: everything.ports }, { network: networkHost })).files[0]!.text;
  const pre = /^ExecStartPre=(.*)$/m.exec(text)![1]!;
  const post = /^ExecStopPost=(.*)$/m.exec(text)![1]!;
  assert.ok(pre.startsWith('/usr/bin/node /usr/lib/host-agent/dist/agent/net-helper.js up "{'));
  assert.equal(post, `-${pre.replace(' up ', ' down ')}`, 'down gets the same attachment');
  assert.match(text, /^UnsetEnvironment=NODE_EXTRA_CA_CERTS NODE_OPTIONS$/m, 'the helper takes no CA bundle or node options from the manager');
  assert.match(text, / nsenter --net=\/run\/host-agent\/netns\/web -- systemd-nspawn /);
  assert.match(text, /^ExecStart=unshare --mount --propagation private -- /m);
  assert.match(text, / --resolv-conf=off --bind-ro=\/run\/host-agent\/network\/containers\/web.resolv.conf:\/etc\/resolv.conf:idmap --bind-ro=\/run\/host-agent\/network\/containers\/web.hosts:\/etc\/hosts:idmap /);
  assert.match(pre, /\\"ports\\":\[\{\\"hostPort\\":8080,\\"containerPort\\":80,\\"protocol\\":\\"tcp\\"\}\]/);
});

test('nspawn without a user namespace, as a named user, without metacopy', async () => {
  await golden('nspawn-no-userns', render(input({ privateUsers: 'false', user: 'www' }, { metacopy: false })));
});

test('fly: the sandboxed unit and its rootfs unit', async () => {
  const r = render(input({
    ...everything, isolation: 'fly', network: { mode: 'host' }, privateUsers: 'no', ports: [{ host: 8080, container: 8080, protocol: 'tcp' }], user: '1000', group: '1000',
  }, { legacyCgroups: { memory: '/sys/fs/cgroup/memory/host-agent' } }));
  assert.deepEqual(r.files.map((f) => f.name), ['container-web.service', 'container-web.rootfs.service']);
  assert.deepEqual(r.warnings, ['isolation fly relies on systemd for memory and cpu limits, which this systemd manager does not enforce here']);
  await golden('fly', r);
});

test('every file carries the marker and the spec hash; helpers read them back', () => {
  const r = render(input({ isolation: 'fly', privateUsers: 'no' }));
  for (const f of r.files) {
    assert.match(f.text, /^X-HostAgent-Source=container:web$/m);
    assert.equal(specHashOf(f.text), r.hash);
  }
  assert.match(r.hash, /^sha256-[0-9a-f]{64}$/);
  assert.equal(containerOfOrigin('container:web'), 'web');
  assert.equal(containerOfOrigin('config:web.service'), undefined);
  assert.equal(containerUnitName('web'), 'container-web.service');
  assert.equal(rootfsUnitName('web'), 'container-web.rootfs.service');
});

test('an image of several layers: overlayfs gets them top first, in nspawn and fly units', () => {
  const layer = (n: number): string => `/var/lib/host-agent/layers/sha256-${String(n).repeat(64)}/diff`;
  const host = { imageLayers: [layer(1), layer(2), layer(3)] };
  const lower = `lowerdir=${layer(3)}:${layer(2)}:${layer(1)},upperdir=`;
  assert.ok(render(input({}, host)).files[0]!.text.includes(lower), 'nspawn');
  const fly = render(input({ isolation: 'fly', privateUsers: 'no' }, host));
  assert.ok(fly.files[1]!.text.includes(lower), 'fly rootfs unit');
});

test('the image environment comes first; the spec\'s replaces a name in place', () => {
  const text = render(input({ environment: { GREETING: 'config', ZED: 'z' } })).files[0]!.text;
  const setenv = [...text.matchAll(/--setenv=(\S+)/g)].map((m) => m[1]);
  assert.deepEqual(setenv, ['PATH=/bin:/usr/bin', 'GREETING=config', 'ZED=z']);
});

test('hostile values never leave their word', () => {
  const text = render(input({
    exec: ['/bin/echo', '; --private-users=no', '$(reboot)', '%n', 'a\\', '"'],
    environment: { X: '" --bind=/:/host "' },
  })).files[0]!.text;
  const exec = /^ExecStart=(.*)$/m.exec(text)![1]!;
  assert.ok(exec.endsWith('--as-pid2 -- /bin/echo "; --private-users=no" "$$(reboot)" %%n "a\\\\" "\\""'), exec);
  assert.ok(exec.includes('"--setenv=X=\\" --bind=/:/host \\""'), exec);
  assert.equal(text.split('\n').filter((l) => l.startsWith('ExecStart=')).length, 1, 'no value adds a line');
});

test('image isolators become properties; the spec\'s memory and cpu replace the image\'s', () => {
  const fromImage = render(input()).files[0]!.text;
  assert.match(fromImage, /^MemoryMax=268435456$/m);
  assert.match(fromImage, /^CPUQuota=50%$/m);
  assert.match(fromImage, /^OOMScoreAdjust=100$/m);
  const fromSpec = render(input({ memoryBytes: 1024, cpuPercent: 200 })).files[0]!.text;
  assert.match(fromSpec, /^MemoryMax=1024$/m);
  assert.match(fromSpec, /^CPUQuota=200%$/m);
});
