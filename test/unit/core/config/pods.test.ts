/**
 * Pods in cloud-config: a container with `apps:` (agent/core/config/build.ts). A good pod
 * is read app by app; a wrong one (a key that belongs to an app, an app declared twice, an
 * app without image, a relative exec, a bad app name, no apps) rejects that pod only, with
 * the line and the fix; pods and containers share one namespace of names.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lines, validate } from './helpers.js';

const cc = (containers: string): string => `#cloud-config\nhostname: h1\nhost-agent:\n  containers:\n    - name: db\n      image: example.com/db:1.0.0\n${containers}`;

const POD = `    - name: web
      network: default
      ports: [{host: 8080, container: 80}]
      dns: [192.0.2.53]
      restart: on-failure
      apps:
        - name: server
          image: example.com/httpd:2.4
          exec: [/bin/httpd, -f]
          environment: {PORT: "80"}
          volumes: [{host: /srv/www, path: /www, read-only: true}]
          user: "1000"
          group: "1000"
          working-directory: /www
        - name: sidecar
          image: example.com/sidecar
`;

test('a pod is a container with apps: each app with its image, exec, environment, volumes and identity; the pod has the network, ports and DNS', () => {
  const result = validate(cc(POD));
  assert.deepEqual(lines(result), []);
  const web = result.config!.containers.find((c) => c.name === 'web')!;
  assert.equal(web.imageText, 'example.com/httpd:2.4', 'a pod\'s image is its first app\'s');
  assert.deepEqual(web.ports, [{ host: 8080, container: 80, protocol: 'tcp' }]);
  assert.deepEqual([web.network, web.dns, web.restart], ['default', ['192.0.2.53'], 'on-failure']);
  assert.deepEqual(web.apps!.map(({ origin, image, ...a }) => a), [
    {
      name: 'server', imageText: 'example.com/httpd:2.4', exec: ['/bin/httpd', '-f'], environment: { PORT: '80' },
      volumes: [{ host: '/srv/www', path: '/www', readOnly: true }], user: '1000', group: '1000', workingDirectory: '/www',
    },
    { name: 'sidecar', imageText: 'example.com/sidecar', environment: {}, volumes: [] },
  ]);
  assert.equal(web.apps![1]!.origin.line, 21);
});

test('a wrong pod is rejected alone, with its line and the fix', () => {
  const cases: Array<[string, RegExp]> = [
    [POD.replace('      network: default\n', '      image: example.com/web\n'), /^line 8: error: container "web" is a pod \(it has apps\), so "image" does not belong to it: give each app its image$/],
    [POD.replace('      network: default\n', '      exec: [/bin/sh]\n'), /^line 8: error: container "web" is a pod .* "exec" does not belong to it: give it to the app that runs it$/],
    [POD.replace('      network: default\n', '      auto-update: true\n'), /^line 8: error: .*"auto_update" does not belong to it: pods follow the images their apps name/],
    [POD.replace('name: sidecar', 'name: server'), /^line 21: error: app "server" is declared twice in pod "web" \(also at line 13\); give each app its own name$/],
    [POD.replace('          image: example.com/sidecar\n', ''), /^line 21: error: app "sidecar" of pod "web" has no "image"; e\.g\. image: example\.com\/web:1\.4\.0$/],
    [POD.replace('exec: [/bin/httpd, -f]', 'exec: [./httpd, -f]'), /^line 15: error: the exec of app "server" of pod "web" must begin with an absolute path/],
    [POD.replace('name: sidecar', 'name: Side_Car'), /^line 21: error: invalid container name "Side_Car"/],
    ['    - name: web\n      apps: []\n', /^line 8: error: the pod "web" has no apps; e\.g\. apps: \[\{name: web, image: example\.com\/web:1\.0\.0\}\]$/],
    [POD.replace('        - name: sidecar', '          colour: blue\n        - name: sidecar'), /^line 21: error: .*colour/],
  ];
  for (const [pod, expected] of cases) {
    const result = validate(cc(pod));
    assert.equal(lines(result).length, 1, lines(result).join('\n'));
    assert.match(lines(result)[0]!, expected);
    assert.deepEqual(result.config?.containers.map((c) => c.name), ['db'], 'the other containers apply');
    assert.deepEqual(result.config?.rejectedContainers.map((c) => c.name), ['web']);
    assert.equal(result.config?.hostname, 'h1');
  }
});

test('pods and containers share one namespace of names', () => {
  const result = validate(cc(`${POD}    - name: web\n      image: example.com/web\n`));
  assert.match(lines(result).join('\n'), /container "web" is declared twice in this file \(also at line 7\)/);
  assert.deepEqual(result.config?.rejectedContainers.map((c) => c.name), ['web']);
});
