/**
 * The OCI adapter (image config → record: exec, env, user, working dir, ports, labels) with
 * its own checks of what goes into a unit, and the OCI matcher (a container's `docker://`
 * reference finds the image fetched for it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isAgentError } from '../../../../agent/core/errors.js';
import { answersTo, parseImageText } from '../../../../agent/core/image/match.js';
import type { ImageConfig } from '../../../../agent/core/oci/manifest.js';
import { ociImageId, ociRecord } from '../../../../agent/core/oci/record.js';
import { parseReference } from '../../../../agent/core/oci/reference.js';

const digest = `sha256:${'ab'.repeat(32)}`;
const layer = `sha256-${'cd'.repeat(32)}`;
const reference = parseReference('docker://127.0.0.1:5000/team/app:1.0');

function config(settings: Partial<ImageConfig['config']>): ImageConfig {
  return { os: 'linux', architecture: 'amd64', diffIds: [], config: { env: [], exposedPorts: [], labels: {}, ...settings } };
}

const record = (settings: Partial<ImageConfig['config']>) => ociRecord({ reference, digest, layers: [layer], config: config(settings), annotations: { a: 'manifest' } });

test('config → record: Entrypoint + Cmd, Env in order, User uid:gid, WorkingDir, ports, labels', () => {
  const r = record({ entrypoint: ['/bin/sh', '-c'], cmd: ['echo hi'], env: ['PATH=/bin', 'A=b=c', 'EMPTY'], user: '1000:100', workingDir: '/srv', exposedPorts: ['8080/tcp', '53/udp', '9/sctp', '80'], labels: { l: 'v' } });
  assert.equal(r.id, ociImageId(digest));
  assert.equal(r.id, `sha256-${'ab'.repeat(32)}`);
  assert.equal(r.name, '127.0.0.1:5000/team/app');
  assert.equal(r.reference, 'docker://127.0.0.1:5000/team/app:1.0');
  assert.deepEqual(r.labels, [{ name: 'version', value: '1.0' }, { name: 'os', value: 'linux' }, { name: 'arch', value: 'amd64' }]);
  assert.deepEqual(r.annotations, { a: 'manifest', l: 'v' });
  assert.deepEqual(r.run, {
    exec: ['/bin/sh', '-c', 'echo hi'], environment: [['PATH', '/bin'], ['A', 'b=c'], ['EMPTY', '']], user: '1000', group: '100', workingDirectory: '/srv',
    ports: [{ name: '8080/tcp', port: 8080, protocol: 'tcp' }, { name: '53/udp', port: 53, protocol: 'udp' }, { name: '80', port: 80, protocol: 'tcp' }], isolators: [],
  });
  assert.deepEqual(record({ user: 'nginx' }).run?.user, 'nginx');
  assert.equal(record({}).run?.user, undefined);
});

test('config fields that cannot go into a unit are refused with image.bad-config naming the field', () => {
  const refused = (settings: Partial<ImageConfig['config']>, field: RegExp) =>
    assert.throws(() => record(settings), (e) => isAgentError(e, 'image.bad-config') && field.test((e as Error).message));
  refused({ env: ['BAD NAME=x'] }, /config\.Env\[0\]/);
  refused({ env: ['A=line\nExecStart=/bin/evil'] }, /config\.Env\[0\]/);
  refused({ user: 'a:b:c' }, /config\.User/);
  refused({ user: 'root\nExecStart=x' }, /config\.User/);
  refused({ workingDir: 'relative' }, /config\.WorkingDir/);
  refused({ workingDir: '/srv/../etc' }, /config\.WorkingDir/);
  refused({ exposedPorts: ['99999/tcp'] }, /config\.ExposedPorts/);
  assert.throws(() => ociImageId('sha512:' + 'ab'.repeat(64)), (e) => isAgentError(e, 'image.bad-digest'));
});

test('matcher: a docker:// reference names the image of that repository and tag, or digest; appc references stay appc', () => {
  const r = record({});
  assert.equal(answersTo(r, parseImageText('docker://127.0.0.1:5000/team/app:1.0')), true);
  assert.equal(answersTo(r, parseImageText('docker://127.0.0.1:5000/team/app:2.0')), false);
  assert.equal(answersTo(r, parseImageText('docker://127.0.0.1:5000/team/app')), false, 'latest is another tag');
  assert.equal(answersTo(r, parseImageText(`docker://127.0.0.1:5000/team/app@${digest}`)), true);
  assert.equal(answersTo(r, parseImageText(`docker://127.0.0.1:5000/team/other@${digest}`)), false);
  assert.equal(answersTo(r, parseImageText('127.0.0.1/team/app')), false, 'an appc name never names an OCI image');
  assert.deepEqual(parseImageText('docker://busybox'), { registry: 'docker.io', repository: 'library/busybox', tag: 'latest' });
  assert.throws(() => parseImageText('docker://Quay.io/x:bad tag'), (e) => isAgentError(e, 'image.bad-reference'));
});
