/**
 * Each container stands alone: an error inside one declaration rejects that container (in
 * every file, before the merge) and the rest of the configuration applies; an error
 * elsewhere, or in a container without a name, still refuses the whole configuration. In
 * our section an unknown, misplaced or mistyped key is such an error too.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lines, validate, validateAll } from './helpers.js';

const MAIN = '/etc/host-agent/cloud-config.yaml';
const DROP_IN = '/etc/host-agent/cloud-config.d/50-web.yaml';

const cc = (containers: string, extra = ''): string => `#cloud-config\n${extra}host-agent:\n  containers:\n${containers}`;
const good = (name: string): string => `    - name: ${name}\n      image: example.com/${name}:1.0.0\n`;
const names = (list: Array<{ name: string }> | undefined): string[] | undefined => list?.map((c) => c.name);

test('a bad value rejects that container only, with its file, line and field', () => {
  const cases: Array<[string, RegExp]> = [
    ['    - name: Web_1\n      image: example.com/web\n', /^line 7: error: invalid container name "Web_1"/],
    ['    - name: web\n      image: example.com/web\n      volumes: [{host: data, path: /data}]\n', /^line 9: error: invalid volume host path "data": it must be an absolute path/],
    ['    - name: web\n      image: example.com/web\n      exec: [./httpd, -f]\n', /^line 9: error: the exec of container "web" must begin with an absolute path/],
    ['    - name: web\n      image: example.com/web\n      memory: lots\n', /^line 9: error: invalid memory size "lots"/],
    ['    - name: web\n      image: Example.com/Web\n', /^line 8: error: invalid image "Example.com\/Web"/],
    ['    - name: web\n', /^line 7: error: container "web" has no "image"/],
  ];
  for (const [bad, expected] of cases) {
    const result = validate(cc(good('db') + bad, 'hostname: h1\n'));
    assert.equal(lines(result).length, 1, lines(result).join('\n'));
    assert.match(lines(result)[0]!, expected);
    assert.deepEqual(names(result.config?.containers), ['db'], bad);
    const [rejected] = result.config!.rejectedContainers;
    assert.equal(rejected?.errors.length, 1);
    assert.equal(rejected?.errors[0]?.line, Number(/^line (\d+)/.exec(lines(result)[0]!)![1]));
    assert.equal(result.config?.hostname, 'h1', 'the rest of the configuration applies');
  }
});

test('quotes, semicolons and option-like words in exec are arguments, not errors', () => {
  const result = validate(cc(`    - name: web\n      image: example.com/web\n      exec: [/bin/echo, "a'b\\"c", "; rm -rf /", --bind=/:/host, "$(id)"]\n`));
  assert.deepEqual(result.entries, []);
  assert.deepEqual(result.config?.containers[0]?.exec, ['/bin/echo', 'a\'b"c', '; rm -rf /', '--bind=/:/host', '$(id)']);
});

test('a name given twice in one file rejects that name, naming both lines', () => {
  const result = validate(cc(good('web') + good('db') + good('web')));
  assert.deepEqual(lines(result), [
    'line 8: error: container "web" is declared twice in this file (also at line 4); give each container its own name, or change it from a drop-in file']);
  assert.deepEqual(names(result.config?.containers), ['db']);
  assert.deepEqual(names(result.config?.rejectedContainers), ['web']);
});

test('the same name in a drop-in file changes the container (merge by name, no error)', () => {
  const result = validateAll([
    { file: MAIN, text: cc(good('web')) },
    { file: DROP_IN, text: cc('    - name: web\n      memory: 64M\n') },
  ]);
  assert.deepEqual(result.entries, []);
  assert.equal(result.config?.containers[0]?.memoryBytes, 64 * 2 ** 20);
});

test('an error in a drop-in rejects the container of that name in every file', () => {
  const result = validateAll([
    { file: MAIN, text: cc(good('web') + good('db')) },
    { file: DROP_IN, text: cc('    - name: web\n      memory: lots\n') },
  ]);
  assert.deepEqual(lines(result), [`${DROP_IN}: line 5: error: invalid memory size "lots": write a whole number of bytes with an optional K, M, G or T suffix (powers of 1024), e.g. 128M or 1G`]);
  assert.deepEqual(names(result.config?.containers), ['db']);
  assert.deepEqual(result.config?.rejectedContainers.map((c) => [c.name, c.errors[0]?.file]), [['web', DROP_IN]]);
});

test('errors outside containers, or in a container without a name, refuse the whole configuration', () => {
  const bad = validate(cc(good('web'), 'hostname: "bad name"\n'));
  assert.equal(bad.config, undefined);
  const nameless = validate(cc(`${good('web')}    - image: example.com/db\n      memory: lots\n`));
  assert.equal(nameless.config, undefined);
  assert.match(lines(nameless)[0]!, /^line 7: error: invalid memory size "lots"/);
  assert.deepEqual(lines(validate(cc(`${good('web')}    - image: example.com/db\n`))), ['line 6: error: a container has no "name"; e.g. name: web']);
});

test('an unknown key, a wrong type or a misplaced key inside a container rejects it alone (an error, not a warning)', () => {
  const cases: Array<[string, RegExp]> = [
    ['      colour: blue\n', /^line 6: error: unrecognized key "colour" in host-agent\.containers\[\] \(known here: name, image, /],
    ['      exec: /bin/sh\n', /^line 6: error: incorrect type for "exec" \(want \[\]string\): write a list/],
    ['      volumes:\n        - /srv/vol:/data\n', /^line 7: error: incorrect type for "volumes\[0\]" \(want struct\): write a map of host, path, read-only/],
    ['      read-only: true\n', /^line 6: error: misplaced key "read-only" in host-agent\.containers\[\]: it belongs in host-agent\.containers\[\]\.volumes\[\]/],
    ['      environment:\n        A: {b: c}\n', /^line 7: error: incorrect type for "A" \(want string\)/],
  ];
  for (const [bad, expected] of cases) {
    const result = validate(cc(`${good('web')}${bad}${good('db')}`));
    assert.equal(lines(result).length, 1, lines(result).join('\n'));
    assert.match(lines(result)[0]!, expected);
    assert.deepEqual(names(result.config?.containers), ['db'], bad);
    assert.deepEqual(names(result.config?.rejectedContainers), ['web'], bad);
  }
});

test('an unknown, misplaced or mistyped key of the section itself refuses the whole configuration', () => {
  const cases: Array<[string, RegExp]> = [
    [`#cloud-config\nhost-agent:\n  container:\n${good('web')}`, /^line 3: error: unrecognized key "container" in host-agent: did you mean "containers"\?/],
    ['#cloud-config\nhost-agent:\n  containers: web\n', /^line 3: error: incorrect type for "containers" \(want \[\]struct\): write each item as a map of name, image, /],
    [`${cc(good('web'))}  volumes: []\n`, /^line 6: error: misplaced key "volumes" in host-agent: it belongs in host-agent\.containers\[\]/],
    ['#cloud-config\nhost-agent: [web]\n', /^line 2: error: incorrect type for "host_agent" \(want struct\)/],
  ];
  for (const [text, expected] of cases) {
    const result = validate(text);
    assert.equal(result.config, undefined, text);
    assert.match(lines(result)[0]!, expected);
  }
});

test('the keys of coreos-cloudinit keep its warnings', () => {
  assert.deepEqual(lines(validate('#cloud-config\nhostnme: h1\ncoreos:\n  update: 1\n')), [
    'line 2: warning: unrecognized key "hostnme"', 'line 4: warning: incorrect type for "update" (want struct)',
  ]);
});
