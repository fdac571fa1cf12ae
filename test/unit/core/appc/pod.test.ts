import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validatePodManifest } from '../../../../agent/core/appc/pod.js';

/** appc/spec examples/pod_runtime.json, as a literal. */
function runtimePod(): Record<string, any> {
  return {
    acKind: 'PodManifest',
    acVersion: '0.8.11',
    apps: [
      {
        name: 'reduce-worker',
        image: {
          name: 'example.com/reduce-worker',
          id: 'sha512-8d3fffddf79e9a232ffd19f9ccaa4d6b37a6a243dbe0f23137b108a043d9da13121a9b505c804956b22e93c7f93969f4a7ba8ddea45bf4aab0bebc8f814e0990',
        },
        app: {
          exec: ['/usr/bin/reduce-worker', '--debug=true', '--data-dir=/mnt/foo'],
          group: '0',
          user: '0',
          mountPoints: [{ name: 'database', path: '/var/lib/db' }],
          isolators: [{ name: 'resource/memory', value: { limit: '1G' } }],
        },
        mounts: [{ volume: 'dbvolume', path: '/var/lib/db' }],
      },
      {
        name: 'backup',
        image: {
          name: 'example.com/worker-backup',
          id: 'sha512-d603c29df0214c9b6681ed591871d40cc4bfabf9914383ce95ada0f2333defa7e97e21ca347e1d8dfde0b3edfe703688729cd25cec895a9a5b5c856da2f031fe',
          labels: [{ name: 'version', value: 'latest' }],
        },
        mounts: [
          { volume: 'dbvolume', path: '/mnt/db' },
          { volume: 'buildoutput', path: '/mnt/out' },
        ],
        annotations: [{ name: 'foo', value: 'baz' }],
      },
      {
        name: 'register',
        image: {
          name: 'example.com/reduce-worker-register',
          id: 'sha512-57007df523db8aa55e11260aaaab5e8242eb7a2a431196da7ba8204c4aacc6215db289242d17e5a5e45cb0cd0c2e22c7be9c77b61401a8f7e3eba66c2e6e42eb',
          labels: [{ name: 'version', value: '3.0.0' }],
        },
      },
    ],
    volumes: [
      { name: 'dbvolume', kind: 'host', source: '/opt/tenant1/database', readOnly: true },
      { name: 'buildoutput', kind: 'empty', mode: '0777', uid: 0, gid: 0 },
    ],
    isolators: [
      { name: 'resource/memory', value: { limit: '4G' } },
      { name: 'os/unix/sysctl', value: { 'net.ipv4.tcp_fin_timeout': '6' } },
    ],
    annotations: [{ name: 'ip-address', value: '10.1.2.3' }],
  };
}

/** appc/spec examples/pod_template.json, as a literal: images by name and labels. */
const TEMPLATE_POD = {
  acVersion: '0.3.0',
  acKind: 'PodManifest',
  apps: [
    {
      name: 'reduce-worker',
      image: {
        name: 'example.com/reduce-worker',
        id: 'sha512-8d3fffddf79e9a232ffd19f9ccaa4d6b37a6a243dbe0f23137b108a043d9da13121a9b505c804956b22e93c7f93969f4a7ba8ddea45bf4aab0bebc8f814e0990',
      },
    },
    { name: 'backup', image: { name: 'example.com/worker-backup', labels: [{ name: 'version', value: 'latest' }] } },
    { name: 'register', image: { name: 'example.com/reduce-worker-register', labels: [{ name: 'version', value: '3.0.0' }] } },
  ],
  isolators: [{ name: 'resource/memory', value: { limit: '4G' } }],
};

function edited(change: (m: Record<string, any>) => void): Record<string, any> {
  const m = runtimePod();
  change(m);
  return m;
}

function rejects(manifest: unknown, subject: string, message: string): void {
  assert.throws(() => validatePodManifest(manifest), { code: 'appc.invalid-manifest', subject, message });
}

test('the spec examples are valid', () => {
  const pod = validatePodManifest(runtimePod());
  assert.deepEqual(pod.apps.map((a) => a.name), ['reduce-worker', 'backup', 'register']);
  assert.equal(pod.apps[0].app?.user, '0');
  assert.deepEqual(pod.volumes[1], { name: 'buildoutput', kind: 'empty', mode: '0777', uid: 0, gid: 0 });
  assert.deepEqual(pod.isolators[1].value, { 'net.ipv4.tcp_fin_timeout': '6' });
  const template = validatePodManifest(TEMPLATE_POD);
  assert.equal(template.apps[1].image.id, undefined);
  assert.deepEqual(template.apps[2].image.labels, [{ name: 'version', value: '3.0.0' }]);
});

test('kind and apps', () => {
  rejects(edited((m) => (m.acKind = 'ImageManifest')), 'acKind', 'missing or bad ACKind (must be "PodManifest")');
  rejects(edited((m) => (m.apps[2].name = 'backup')), 'apps[2].name', 'duplicate apps of name "backup"');
  rejects(edited((m) => delete m.apps[0].name), 'apps[0].name', 'ACName cannot be empty');
  rejects(edited((m) => (m.apps[0].name = 'Reduce')), 'apps[0].name', 'ACName must contain only lower case alphanumeric characters plus "-"');
  rejects(edited((m) => (m.apps[0].image.id = 'sha256-abc')), 'apps[0].image.id', 'unrecognized hash type: sha256');
  rejects(edited((m) => (m.apps[0].image.id = 'sha512-a-b')), 'apps[0].image.id', 'badly formatted hash string');
  rejects(edited((m) => (m.apps[1].image.labels[0].name = 'name')), 'apps[1].image.labels[0].name', 'invalid label name: "name"');
  rejects(edited((m) => delete m.apps[0].app.group), 'apps[0].app.group', 'group is required');
  rejects(edited((m) => delete m.apps[0].mounts[0].volume), 'apps[0].mounts[0].volume', 'volume must be set');
  rejects(edited((m) => delete m.apps[0].mounts[0].path), 'apps[0].mounts[0].path', 'path must be set');
  rejects(edited((m) => m.apps[1].annotations.push({ name: 'foo', value: 'x' })), 'apps[1].annotations[1].name', 'duplicate annotations of name "foo"');
  rejects(edited((m) => (m.apps[0].readOnlyRootFS = 'yes')), 'apps[0].readOnlyRootFS', 'cannot unmarshal string into apps[0].readOnlyRootFS of type bool');
});

test('volumes: kinds, their fields and defaults', () => {
  rejects(edited((m) => (m.volumes[1].name = 'dbvolume')), 'volumes[1].name', 'duplicate volume name "dbvolume"');
  rejects(edited((m) => delete m.volumes[0].name), 'volumes[0].name', 'name must be set');
  rejects(edited((m) => (m.volumes[0].kind = 'tmpfs')), 'volumes[0].kind', 'unrecognized volume kind: should be one of "empty", "host"');
  rejects(edited((m) => delete m.volumes[0].source), 'volumes[0].source', 'source for host volume cannot be empty');
  rejects(edited((m) => (m.volumes[0].source = 'opt/db')), 'volumes[0].source', 'source for host volume must be absolute path');
  rejects(edited((m) => (m.volumes[0].mode = '0755')), 'volumes[0].mode', 'mode for host volume cannot be set');
  rejects(edited((m) => (m.volumes[0].uid = 0)), 'volumes[0].uid', 'uid for host volume cannot be set');
  rejects(edited((m) => (m.volumes[0].gid = 0)), 'volumes[0].gid', 'gid for host volume cannot be set');
  rejects(edited((m) => (m.volumes[1].source = '/x')), 'volumes[1].source', 'source for empty volume must be empty');
  const pod = validatePodManifest(edited((m) => (m.volumes[1] = { name: 'buildoutput', kind: 'empty' })));
  assert.deepEqual(pod.volumes[1], { name: 'buildoutput', kind: 'empty', mode: '0755', uid: 0, gid: 0 });
  rejects(
    edited((m) => (m.apps[0].mounts[0].appVolume = { name: 'x', kind: 'host' })),
    'apps[0].mounts[0].appVolume.source',
    'source for host volume cannot be empty',
  );
});

test('exposed ports', () => {
  const pod = validatePodManifest(
    edited((m) => (m.ports = [{ name: 'health', hostPort: 8080, hostIP: '::1', podPort: { name: 'health', port: 4000, protocol: 'tcp' } }])),
  );
  assert.equal(pod.ports[0].podPort?.count, 1);
  for (const ip of ['127.0.0.1', 'fe80::1', '::ffff:10.0.0.1', '2001:db8:0:0:0:0:0:1']) {
    validatePodManifest(edited((m) => (m.ports = [{ name: 'p', hostPort: 1, hostIP: ip }])));
  }
  for (const ip of ['256.0.0.1', '1.2.3', 'fe80:::1', 'localhost', '1:2:3:4:5:6:7:8:9']) {
    rejects(edited((m) => (m.ports = [{ name: 'p', hostPort: 1, hostIP: ip }])), 'ports[0].hostIP', `invalid IP address: ${ip}`);
  }
  rejects(edited((m) => (m.ports = [{ name: 'p', hostPort: 1, podPort: { name: 'p', port: 0 } }])), 'ports[0].podPort.port', 'port must be in 1-65535 range');
});

test('pod isolators are checked one by one; unknown types are kept', () => {
  rejects(edited((m) => (m.isolators[0].value = { limit: 'lots' })), 'isolators[0].value.limit', "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'");
  const pod = validatePodManifest(edited((m) => m.isolators.push({ name: 'example.com/custom', value: 1 })));
  assert.equal(pod.isolators[2].name, 'example.com/custom');
});
