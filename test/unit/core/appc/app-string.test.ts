import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAppString, parseImageReference, withDefaultLabels } from '../../../../agent/core/appc/app-string.js';

function rejects(app: string, message: string): void {
  assert.throws(() => parseAppString(app), { code: 'appc.invalid-app-string', subject: app, message });
}

test('app strings accepted by the reference', () => {
  assert.deepEqual(parseAppString('example.com/reduce-worker:1.0.0'), { name: 'example.com/reduce-worker', labels: { version: '1.0.0' } });
  assert.deepEqual(parseAppString('example.com/reduce-worker,channel=alpha,label=value'), {
    name: 'example.com/reduce-worker',
    labels: { channel: 'alpha', label: 'value' },
  });
  assert.deepEqual(parseAppString("example.com/app:1.2.3,special=!*'();@&+$/?#[],channel=beta"), {
    name: 'example.com/app',
    labels: { version: '1.2.3', special: "!*'();@&+$/?#[]", channel: 'beta' },
  });
  assert.deepEqual(parseAppString('example.com/app'), { name: 'example.com/app', labels: {} });
  assert.deepEqual(parseAppString('example.com/app,a=x=y,b='), { name: 'example.com/app', labels: { a: 'x=y', b: '' } });
});

test('app strings refused by the reference, with its messages', () => {
  rejects('not an app name', 'ACIdentifier must contain only lower case alphanumeric characters plus "-._~/"');
  rejects('example.com/garbage%8 939', 'ACIdentifier must contain only lower case alphanumeric characters plus "-._~/"');
  rejects('foo.com/bar,channel=alpha,dog=woof,channel=beta', 'label channel with multiple values ["alpha" "beta"]');
  rejects('example.com/app,channel=beta:1.2.3', 'malformed app string - colon may appear only right after the app name');
  rejects('example.com/app:3.2.1,channel=beta:1.2.3', 'malformed app string - colon may appear at most once');
  rejects('example.com/app:3.2.1,version=1.2.3', 'label version with multiple values ["3.2.1" "1.2.3"]');
  rejects('example.com/app,name=other', 'label name with multiple values ["example.com/app" "other"]');
  rejects('example.com/app,channel', 'malformed app string - has a label without a value: channel');
  rejects('example.com/app,Channel=x', 'ACIdentifier must contain only lower case alphanumeric characters plus "-._~/"');
  rejects('', 'ACIdentifier cannot be empty');
  rejects(':1.0.0', 'ACIdentifier cannot be empty');
});

test('defaults: version latest, os and arch from the host, given labels kept', () => {
  const host = { os: 'linux', arch: 'amd64' };
  assert.deepEqual(parseImageReference('example.com/web', host), {
    name: 'example.com/web',
    labels: { version: 'latest', os: 'linux', arch: 'amd64' },
  });
  assert.deepEqual(parseImageReference('example.com/web:1.4.0,arch=aarch64', host).labels, { version: '1.4.0', arch: 'aarch64', os: 'linux' });
  assert.equal(parseImageReference('example.com/web:', host).labels.version, 'latest');
  assert.deepEqual(withDefaultLabels({ name: 'x', labels: { constructor: 'c' } }, host).labels, { constructor: 'c', version: 'latest', os: 'linux', arch: 'amd64' });
});
