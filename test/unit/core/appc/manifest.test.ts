import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateImageManifest } from '../../../../agent/core/appc/manifest.js';

/** appc/spec examples/image.json (spec 0.8.11), as a literal. */
function specImage(): Record<string, any> {
  return {
    acKind: 'ImageManifest',
    acVersion: '0.8.11',
    name: 'example.com/reduce-worker',
    labels: [
      { name: 'version', value: '1.0.0' },
      { name: 'arch', value: 'amd64' },
      { name: 'os', value: 'linux' },
    ],
    app: {
      exec: ['/usr/bin/reduce-worker', '--quiet'],
      user: '100',
      group: '300',
      eventHandlers: [
        { exec: ['/usr/bin/data-downloader'], name: 'pre-start' },
        { exec: ['/usr/bin/deregister-worker', '--verbose'], name: 'post-stop' },
      ],
      environment: [{ name: 'REDUCE_WORKER_DEBUG', value: 'true' }],
      isolators: [
        { name: 'resource/cpu', value: { limit: '20m' } },
        { name: 'resource/memory', value: { limit: '1G' } },
        { name: 'os/linux/capabilities-retain-set', value: { set: ['CAP_NET_ADMIN', 'CAP_NET_BIND_SERVICE'] } },
        { name: 'os/linux/no-new-privileges', value: true },
        { name: 'os/linux/seccomp-remove-set', value: { errno: 'EACCESS', set: ['clock_settime', 'clock_adjtime', 'reboot'] } },
      ],
      mountPoints: [{ name: 'database', path: '/var/lib/db', readOnly: false }],
      ports: [{ name: 'health', port: 4000, protocol: 'tcp', socketActivated: true }],
    },
    dependencies: [
      {
        imageName: 'example.com/reduce-worker-base',
        imageID: 'sha512-...',
        labels: [
          { name: 'os', value: 'linux' },
          { name: 'env', value: 'canary' },
        ],
      },
    ],
    pathWhitelist: [
      '/etc/ca/example.com/crt',
      '/usr/bin/map-reduce-worker',
      '/opt/libs/reduce-toolkit.so',
      '/etc/reduce-worker.conf',
      '/etc/systemd/system/',
    ],
    annotations: [
      { name: 'authors', value: 'Carly Container <carly@example.com>, Nat Network <[nat@example.com](mailto:nat@example.com)>' },
      { name: 'created', value: '2014-10-27T19:32:27.67021798Z' },
      { name: 'documentation', value: 'https://example.com/docs' },
      { name: 'homepage', value: 'https://example.com' },
      { name: 'appc.io/executor/supports-systemd-notify', value: 'false' },
    ],
  };
}

/** The spec example changed by `change`, which edits it in place. */
function edited(change: (m: Record<string, any>) => void): Record<string, any> {
  const m = specImage();
  change(m);
  return m;
}

function rejects(manifest: unknown, subject: string, message: string): void {
  assert.throws(() => validateImageManifest(manifest), { code: 'appc.invalid-manifest', subject, message });
}

test('the spec example is valid and comes back typed, with defaults filled', () => {
  const m = validateImageManifest(specImage());
  assert.equal(m.name, 'example.com/reduce-worker');
  assert.deepEqual(m.labels.map((l) => l.name), ['version', 'arch', 'os']);
  assert.equal(m.app?.ports[0].count, 1);
  assert.equal(m.app?.workingDirectory, '');
  assert.deepEqual(m.app?.supplementaryGIDs, []);
  assert.equal(m.dependencies[0].imageID, 'sha512-...');
  assert.equal(m.pathWhitelist.length, 5);
  assert.equal(m.annotations.length, 5);
});

test('a minimal manifest: kind, version and name', () => {
  const m = validateImageManifest({ acKind: 'ImageManifest', acVersion: '0.8.11', name: 'example.com/x' });
  assert.equal(m.app, undefined);
  assert.deepEqual(m.labels, []);
});

test('header: kind, version and name', () => {
  rejects(edited((m) => delete m.acKind), 'acKind', 'missing or bad ACKind (must be "ImageManifest")');
  rejects(edited((m) => (m.acKind = 'PodManifest')), 'acKind', 'missing or bad ACKind (must be "ImageManifest")');
  rejects(edited((m) => (m.acKind = 'Image')), 'acKind', 'bad ACKind: Image');
  rejects(edited((m) => (m.acKind = '')), 'acKind', 'ACKind must be set');
  rejects(edited((m) => delete m.acVersion), 'acVersion', 'acVersion must be set');
  rejects(edited((m) => (m.acVersion = '1.0')), 'acVersion', 'SemVer is bad');
  rejects(edited((m) => (m.acVersion = '0.0.0')), 'acVersion', 'SemVer cannot be zero');
  rejects(edited((m) => delete m.name), 'name', 'name must be set');
  rejects(edited((m) => (m.name = 'Example.com/x')), 'name', 'ACIdentifier must contain only lower case alphanumeric characters plus "-._~/"');
  rejects(edited((m) => (m.name = 'example.com/x/')), 'name', 'ACIdentifier must start and end with only lower case alphanumeric characters');
});

test('wrong JSON types name the field and the expected type', () => {
  rejects([], 'manifest', 'cannot unmarshal array into manifest of type object');
  rejects(edited((m) => (m.name = 7)), 'name', 'cannot unmarshal number into name of type string');
  rejects(edited((m) => (m.labels = {})), 'labels', 'cannot unmarshal object into labels of type array');
  rejects(edited((m) => (m.app.ports[0].port = -1)), 'app.ports[0].port', 'cannot unmarshal number into app.ports[0].port of type uint');
  rejects(edited((m) => (m.app.exec = '/bin/sh')), 'app.exec', 'cannot unmarshal string into app.exec of type array');
});

test('the first problem in document order is the one reported, as the reference decodes', () => {
  rejects({ acKind: 'ImageManifest', name: 'BAD', acVersion: 'bad' }, 'name', 'ACIdentifier must contain only lower case alphanumeric characters plus "-._~/"');
  rejects({ acVersion: 'bad', name: 'BAD', acKind: 'ImageManifest' }, 'acVersion', 'SemVer is bad');
});

test('labels: names, duplicates, and the allowed os/arch pairs', () => {
  rejects(edited((m) => m.labels.push({ name: 'name', value: 'x' })), 'labels[3].name', 'invalid label name: "name"');
  rejects(edited((m) => m.labels.push({ name: 'os', value: 'linux' })), 'labels[3].name', 'duplicate labels of name "os"');
  rejects(edited((m) => m.labels.push({ name: 'Env', value: 'x' })), 'labels[3].name', 'ACIdentifier must contain only lower case alphanumeric characters plus "-._~/"');
  rejects(edited((m) => (m.labels[2].value = 'windows')), 'labels[2].value', 'bad os "windows" (must be one of: [darwin freebsd linux])');
  rejects(
    edited((m) => (m.labels[1].value = 'x86_64')),
    'labels[1].value',
    'bad arch "x86_64" for linux (must be one of: [amd64 i386 aarch64 aarch64_be armv6l armv7l armv7b ppc64 ppc64le s390x])',
  );
  const pairs: [string, string][] = [
    ['linux', 'aarch64'], ['linux', 'armv7b'], ['linux', 's390x'], ['freebsd', 'arm'], ['freebsd', 'i386'], ['darwin', 'x86_64'],
  ];
  for (const [os, arch] of pairs) {
    validateImageManifest(edited((m) => m.labels.splice(1, 2, { name: 'os', value: os }, { name: 'arch', value: arch })));
  }
  rejects(edited((m) => (m.labels = [{ name: 'os', value: 'darwin' }, { name: 'arch', value: 'amd64' }])), 'labels[1].value', 'bad arch "amd64" for darwin (must be one of: [x86_64 i386])');
  // arch alone is not checked: it only makes sense for a known os
  validateImageManifest(edited((m) => (m.labels = [{ name: 'arch', value: 'sparc' }])));
});

test('app: user, group, working directory, event handlers', () => {
  rejects(edited((m) => delete m.app.user), 'app.user', 'user is required');
  rejects(edited((m) => (m.app.group = '')), 'app.group', 'group is required');
  rejects(edited((m) => (m.app.workingDirectory = 'srv')), 'app.workingDirectory', 'workingDirectory must be an absolute path');
  validateImageManifest(edited((m) => (m.app.workingDirectory = '/srv')));
  rejects(edited((m) => (m.app.eventHandlers[1].name = 'pre-stop')), 'app.eventHandlers[1].name', 'bad eventHandler "name": "pre-stop"');
  rejects(edited((m) => delete m.app.eventHandlers[0].name), 'app.eventHandlers[0].name', 'eventHandler "name" cannot be empty');
  rejects(edited((m) => (m.app.eventHandlers[1].name = 'pre-start')), 'app.eventHandlers[1]', 'Only one eventHandler of name "pre-start" allowed');
  rejects(edited((m) => (m.app.supplementaryGIDs = [1, 'x'])), 'app.supplementaryGIDs[1]', 'cannot unmarshal string into app.supplementaryGIDs[1] of type uint');
  assert.deepEqual(validateImageManifest(edited((m) => (m.app.supplementaryGIDs = [10, 20]))).app?.supplementaryGIDs, [10, 20]);
});

test('app: environment names', () => {
  for (const name of ['_X', 'a.b-c', 'PATH9']) validateImageManifest(edited((m) => (m.app.environment = [{ name, value: '' }])));
  rejects(edited((m) => (m.app.environment = [{ name: '', value: 'x' }])), 'app.environment[0].name', 'environment variable name must not be empty');
  rejects(edited((m) => (m.app.environment = [{ name: '9X', value: 'x' }])), 'app.environment[0].name', 'environment variable does not have valid identifier "9X"');
  rejects(edited((m) => (m.app.environment = [{ name: 'A B', value: 'x' }])), 'app.environment[0].name', 'environment variable does not have valid identifier "A B"');
  rejects(
    edited((m) => m.app.environment.push({ name: 'REDUCE_WORKER_DEBUG', value: 'false' })),
    'app.environment[1].name',
    'duplicate environment variable of name "REDUCE_WORKER_DEBUG"',
  );
});

test('app: mount points and ports', () => {
  rejects(edited((m) => (m.app.mountPoints[0].name = 'data.base')), 'app.mountPoints[0].name', 'ACName must contain only lower case alphanumeric characters plus "-"');
  rejects(edited((m) => delete m.app.mountPoints[0].path), 'app.mountPoints[0].path', 'path must be set');
  rejects(edited((m) => delete m.app.mountPoints[0].name), 'app.mountPoints[0].name', 'name must be set');
  rejects(edited((m) => (m.app.ports[0].port = 0)), 'app.ports[0].port', 'port must be in 1-65535 range');
  rejects(edited((m) => (m.app.ports[0].port = 65536)), 'app.ports[0].port', 'port must be in 1-65535 range');
  rejects(edited((m) => (m.app.ports[0].count = 65000)), 'app.ports[0].count', 'end of port range must be in 1-65535 range');
  assert.equal(validateImageManifest(edited((m) => (m.app.ports[0].count = 10))).app?.ports[0].count, 10);
  rejects(edited((m) => (m.app.ports[0].name = '-health')), 'app.ports[0].name', 'ACName must start and end with only lower case alphanumeric characters');
});

test('dependencies', () => {
  rejects(edited((m) => delete m.dependencies[0].imageName), 'dependencies[0].imageName', 'imageName cannot be empty');
  rejects(edited((m) => (m.dependencies[0].imageID = 'md5-abc')), 'dependencies[0].imageID', 'unrecognized hash type: md5');
  rejects(edited((m) => (m.dependencies[0].imageID = 'sha512-')), 'dependencies[0].imageID', 'unexpected empty hash value');
  rejects(edited((m) => (m.dependencies[0].labels[0].value = 'plan9')), 'dependencies[0].labels[0].value', 'bad os "plan9" (must be one of: [darwin freebsd linux])');
  rejects(edited((m) => (m.dependencies[0].size = -5)), 'dependencies[0].size', 'cannot unmarshal number into dependencies[0].size of type uint');
});

test('annotations: duplicates, created date, homepage and documentation URLs', () => {
  rejects(edited((m) => m.annotations.push({ name: 'authors', value: 'x' })), 'annotations[5].name', 'duplicate annotations of name "authors"');
  rejects(edited((m) => (m.annotations[1].value = '2014-10-27')), 'annotations[1].value', 'bad Date: parsing time "2014-10-27" as "2006-01-02T15:04:05Z07:00"');
  rejects(edited((m) => (m.annotations[1].value = '2014-02-30T00:00:00Z')), 'annotations[1].value', 'bad Date: parsing time "2014-02-30T00:00:00Z" as "2006-01-02T15:04:05Z07:00": day out of range');
  validateImageManifest(edited((m) => (m.annotations[1].value = '2014-10-27T19:32:27+02:00')));
  rejects(edited((m) => (m.annotations[3].value = 'ftp://example.com')), 'annotations[3].value', 'bad URL scheme, must be http/https');
  rejects(edited((m) => (m.annotations[2].value = 'example.com/docs')), 'annotations[2].value', 'bad URL scheme, must be http/https');
  rejects(edited((m) => (m.annotations[2].value = 'https://x/%zz')), 'annotations[2].value', 'bad URL: parse "https://x/%zz": invalid URL escape "%zz"');
  validateImageManifest(edited((m) => (m.annotations[3].value = 'HTTP://example.com')));
});

test('pathWhitelist holds strings', () => {
  rejects(edited((m) => (m.pathWhitelist = [1])), 'pathWhitelist[0]', 'cannot unmarshal number into pathWhitelist[0] of type string');
});

test('null counts as absent and unknown fields are ignored, as the reference does', () => {
  const m = validateImageManifest(edited((x) => Object.assign(x, { labels: null, app: null, extra: { any: 1 } })));
  assert.deepEqual(m.labels, []);
  assert.equal(m.app, undefined);
});

test('the error is an AgentError that says how to fix it', () => {
  try {
    validateImageManifest(edited((m) => (m.app.user = '')));
    assert.fail('expected an error');
  } catch (e: any) {
    assert.equal(e.name, 'AgentError');
    assert.match(e.describe(), /^app\.user: user is required\. Correct "app\.user"/);
  }
});
