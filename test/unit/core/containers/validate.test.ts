import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isAgentError } from '../../../../agent/core/errors.js';
import { ContainerSpecError, hostProblems, specProblems } from '../../../../agent/core/containers/validate.js';
import { input, render, spec } from './helpers.js';

function fields(s: Parameters<typeof specProblems>[0]): Record<string, string> {
  return Object.fromEntries(specProblems(s).map((p) => [p.field, p.message]));
}

test('a good spec has no problems', () => {
  assert.deepEqual(specProblems(spec()), []);
  assert.deepEqual(specProblems(spec({ isolation: 'fly', privateUsers: 'false', user: 'nobody', group: '65534' })), []);
});

test('names that are not AC Names', () => {
  for (const name of ['Web', 'web_1', '-web', 'web.service', '', 'a/b', 'we b']) {
    assert.ok(fields(spec({ name })).name?.startsWith('ACName '), name);
  }
});

test('exec: newlines and control characters are refused; quotes and ; are fine', () => {
  assert.deepEqual(fields(spec({ exec: ['/bin/sh', '-c', 'echo "a;b" \'c\'; $X', ';'] })), {});
  assert.equal(fields(spec({ exec: ['/bin/sh', '-c', 'echo a\nreboot'] }))['exec[2]'], 'arguments must not contain newlines or other control characters');
  assert.equal(fields(spec({ exec: ['/bin/echo', 'a\0b'] }))['exec[1]'], 'arguments must not contain newlines or other control characters');
  assert.equal(fields(spec({ exec: ['httpd'] }))['exec[0]'], 'the program must be an absolute path or a name found on the container\'s PATH in the image, got "httpd"');
  const none = 'no command: the image has none (appc app.exec, OCI Entrypoint and Cmd), so the container must declare exec';
  assert.equal(fields(spec({ exec: [] })).exec, none);
  const { run: _run, ...bare } = spec().image;
  assert.equal(fields(spec({ image: bare })).exec, none);
});

test('volumes: relative paths, .. segments, separators, the root, duplicates', () => {
  const v = (host: string, path: string) => ({ host, path, readOnly: false });
  const f = fields(spec({ volumes: [v('data', '/data'), v('/srv', '/../etc'), v('/a:b', '/x'), v('/srv', '/'), v('/srv', '/data'), v('/srv/./x', '/y')] }));
  assert.equal(f['volumes[0].host'], 'the host path must be an absolute path, got "data"');
  assert.equal(f['volumes[1].path'], 'the container path must not contain "." or ".." segments, got "/../etc"');
  assert.equal(f['volumes[2].host'], 'the host path must not contain ":", "," or blanks');
  assert.equal(f['volumes[3].path'], 'a volume cannot replace the container\'s root');
  assert.equal(f['volumes[4].path'], '/data is mounted twice');
  assert.equal(f['volumes[5].host'], 'the host path must not contain "." or ".." segments, got "/srv/./x"');
});

test('environment, user, group, working directory, limits, ports, private users', () => {
  const f = fields(spec({
    environment: { 'BAD-NAME': 'x', '1X': 'y', OK: 'fine\nwith newline' },
    user: 'root; rm', workingDirectory: 'srv', memoryBytes: -1, cpuPercent: 0,
    ports: [{ host: 80, container: 0, protocol: 'tcp' }, { host: 80, container: 81, protocol: 'tcp' }],
    privateUsers: 'maybe', restart: 'sometimes' as never, isolation: 'docker' as never, network: { mode: 'default', dns: [] },
  }));
  assert.deepEqual(Object.keys(f).sort(), [
    'cpu', 'environment.1X', 'environment.BAD-NAME', 'isolation', 'memory', 'ports[0].container', 'ports[1].host',
    'private-users', 'restart', 'user', 'working-directory',
  ]);
  assert.equal(f['ports[1].host'], 'host port tcp:80 is forwarded twice');
});

test('rules of isolation: fly has no user namespace and no port mapping; nspawn has no separate group', () => {
  const fly = fields(spec({ isolation: 'fly', privateUsers: 'pick', ports: [{ host: 8080, container: 80, protocol: 'tcp' }] }));
  assert.equal(fly['private-users'], 'isolation fly runs without a user namespace; use isolation nspawn or set private-users: false');
  assert.equal(fly['ports[0]'], 'isolation fly shares the host network, so a port cannot be mapped to another number');
  assert.equal(fields(spec({ isolation: 'fly' }))['private-users'], undefined, 'fly defaults to no user namespace');
  assert.match(fields(spec({ group: 'www' })).group!, /takes the group from the user's entry/);
  assert.deepEqual(fields(spec({ group: '0' })), {});
});

test('host paths must be absolute and free of separators', () => {
  const problems = hostProblems(input({}, { imageLayers: ['/ok', 'images/x'], outputFile: '/var/log/a b', wantedBy: 'x.target\nExecStart=/bin/evil' }));
  assert.deepEqual(problems.map((p) => p.field), ['host.imageLayers[1]', 'host.outputFile', 'host.wantedBy']);
});

test('rendering a bad spec throws one error naming every field, for that container only', () => {
  assert.throws(() => render(input({ name: 'Bad', volumes: [{ host: 'rel', path: '/x', readOnly: true }] })), (e: unknown) => {
    assert.ok(e instanceof ContainerSpecError);
    assert.ok(isAgentError(e, 'container.invalid-spec'));
    assert.equal(e.subject, 'container Bad');
    assert.deepEqual(e.problems.map((p) => p.field), ['name', 'volumes[0].host']);
    assert.match(e.describe(), /^container Bad: name: ACName must contain only lower case.*; volumes\[0\]\.host: the host path must be an absolute path, got "rel"\. Fix these fields/);
    return true;
  });
});

test('image: an OCI record (sha256 ID, registry name) is fine; a name that is not one line, no layers or a bad ID are not', () => {
  const oci = { ...spec().image, id: `sha256-${'c'.repeat(64)}`, format: 'oci' as const, name: '127.0.0.1:5000/library/web', layers: [`sha256-${'d'.repeat(64)}`] };
  assert.deepEqual(fields(spec({ image: oci })), {});
  assert.equal(fields(spec({ image: { ...oci, name: 'web\nExecStart=/bin/evil' } })).image, 'the image name must be one line of text, got "web\\nExecStart=/bin/evil"');
  assert.equal(fields(spec({ image: { ...oci, layers: [] } })).image, 'the image has no layers');
  assert.match(fields(spec({ image: { ...oci, id: 'sha256-abc' } })).image!, /image ID must be sha512- and 128 hex digits or sha256- and 64/);
});
