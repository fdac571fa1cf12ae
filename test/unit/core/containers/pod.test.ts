/**
 * The pod renderer (agent/core/containers/pod.ts): golden unit files of a pod of two apps
 * on a CNI network (test/fixtures/containers/pod.*; UPDATE_GOLDEN=1 rewrites them), every
 * file marked as the pod's, and the pod's checks (apps unique, each app checked as a
 * container of its own, no user namespace, the host paths of each app).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { containerOfOrigin, specHashOf } from '../../../../agent/core/containers/render.js';
import { specProblems } from '../../../../agent/core/containers/validate.js';
import type { AppSpec, ContainerHost } from '../../../../agent/core/containers/spec.js';
import { host, input, render, spec } from './helpers.js';

const FIXTURES = fileURLToPath(new URL('../../../fixtures/containers/', import.meta.url));
const image = spec().image;

const apps: AppSpec[] = [
  { name: 'server', image, environment: { ROLE: 'server' }, volumes: [{ host: '/srv/www', path: '/www', readOnly: true }], workingDirectory: '/www' },
  { name: 'client', image, exec: ['/bin/sh', '-c', 'exec wget -qO- http://127.0.0.1:8080/'], environment: {}, volumes: [], user: '1000', group: '1000' },
];

const podHost: Partial<ContainerHost> = {
  outputFile: '/var/lib/host-agent/containers/web/output.log',
  network: { helper: ['/usr/bin/node', '/usr/lib/host-agent/dist/agent/net-helper.js'], runDir: '/run/host-agent/network', netnsDir: '/run/host-agent/netns', cniPath: ['/usr/lib/cni'] },
  pod: {
    apps: apps.map((a) => ({
      imageLayers: host.imageLayers,
      layer: { upper: `/var/lib/host-agent/containers/web/apps/${a.name}/upper`, work: `/var/lib/host-agent/containers/web/apps/${a.name}/work`, merged: `/var/lib/host-agent/containers/web/apps/${a.name}/merged` },
    })),
    exitFifo: '/var/lib/host-agent/containers/web/exit',
    ipcNamespace: '/var/lib/host-agent/containers/web/ipc',
  },
};

const network = { mode: 'macvlan' as const, network: { name: 'default', iface: 'hostagent0', subnet: '172.16.28.0/24' }, dns: [] };

test('a pod of two apps on the default network: the pod unit, and per app its unit, its rootfs unit and its failure unit', async () => {
  const r = render(input({ apps, network, ports: [{ host: 8080, container: 8080, protocol: 'tcp' }], restart: 'on-failure' }, podHost));
  assert.equal(r.unit, 'container-web.service');
  assert.deepEqual(r.files.map((f) => f.name), [
    'container-web.service',
    'container-web.server.service', 'container-web.server.onfailure.service', 'container-web.server.rootfs.service',
    'container-web.client.service', 'container-web.client.onfailure.service', 'container-web.client.rootfs.service',
  ]);
  assert.deepEqual(r.apps, [{ name: 'server', layers: image.layers }, { name: 'client', layers: image.layers }]);
  for (const f of r.files) {
    assert.equal(containerOfOrigin(/^X-HostAgent-Source=(.*)$/m.exec(f.text)![1]!), 'web', f.name);
    assert.equal(specHashOf(f.text), r.hash, f.name);
    const path = `${FIXTURES}pod.${f.name}`;
    if (process.env.UPDATE_GOLDEN === '1') await writeFile(path, f.text);
    assert.equal(f.text, await readFile(path, 'utf8'), `${path} (UPDATE_GOLDEN=1 to rewrite)`);
  }
  const changed = render(input({ apps: [apps[0]!, { ...apps[1]!, environment: { X: '1' } }], network, ports: [{ host: 8080, container: 8080, protocol: 'tcp' }], restart: 'on-failure' }, podHost));
  assert.notEqual(changed.hash, r.hash, 'an app\'s change changes the pod\'s hash');
});

test('a pod\'s checks: apps unique and each checked, no user namespace, host paths for each app', () => {
  const fields = (s: ReturnType<typeof spec>): string[] => specProblems(s).map((p) => `${p.field}: ${p.message}`);
  assert.deepEqual(fields(spec({ apps: [] })), ['apps: a pod needs at least one app']);
  assert.deepEqual(fields(spec({ apps: [apps[0]!, { ...apps[1]!, name: 'server' }] })), ['apps[1].name: app "server" is declared twice in the pod']);
  assert.deepEqual(fields(spec({ apps: [{ ...apps[0]!, exec: ['httpd'] }, { ...apps[1]!, environment: { 'BAD-NAME': 'x' } }] })), [
    'apps[0].exec[0]: the program must be an absolute path or a name found on the container\'s PATH in the image, got "httpd"',
    'apps[1].environment.BAD-NAME: variable names are letters, digits and "_", not starting with a digit',
  ]);
  assert.deepEqual(fields(spec({ apps, privateUsers: 'pick' })), ['private-users: the apps of a pod run without a user namespace; leave private-users out']);
  assert.deepEqual(fields(spec({ apps, privateUsers: 'no' })), []);
  assert.throws(() => render(input({ apps }, {})), /host\.pod: a pod needs the host paths of each of its apps/);
});
