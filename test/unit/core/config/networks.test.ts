/** host-agent.networks and the per-container network and dns keys. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lines, validate } from './helpers.js';

const cc = (body: string) => `#cloud-config\n${body}`;

test('networks are CNI conflists as JSON text; containers choose one, with nameservers', () => {
  const result = validate(cc(`host-agent:
  networks:
    - name: backend
      conflist: '{"cniVersion": "1.0.0", "plugins": [{"type": "bridge", "bridge": "backend0"}]}'
  containers:
    - name: web
      image: example.com/web:1.4.0
      network: backend
      dns: [192.0.2.53, "2001:db8::53"]
    - name: plain
      image: example.com/web:1.4.0
`));
  assert.deepEqual(lines(result), []);
  assert.deepEqual(result.config!.networks.map((n) => ({ name: n.name, conflist: n.conflist })), [
    { name: 'backend', conflist: { cniVersion: '1.0.0', plugins: [{ type: 'bridge', bridge: 'backend0' }] } },
  ]);
  const [web, plain] = result.config!.containers;
  assert.equal(web!.network, 'backend');
  assert.deepEqual(web!.dns, ['192.0.2.53', '2001:db8::53']);
  assert.equal(plain!.network, undefined);
  assert.deepEqual(plain!.dns, []);
});

test('a bad conflist, a built-in name, a bad nameserver are errors that say what to write', () => {
  const result = validate(cc(`host-agent:
  networks:
    - name: host
      conflist: '{"plugins": [{"type": "bridge"}]}'
    - name: broken
      conflist: '{"plugins": '
    - name: empty
      conflist: '{"plugins": []}'
  containers:
    - name: web
      image: example.com/web:1.4.0
      dns: [dns.example.com]
`));
  const text = lines(result).join('\n');
  assert.match(text, /"host" is a built-in network; give the declared network another name/);
  assert.match(text, /the conflist is not JSON/);
  assert.match(text, /invalid conflist: "plugins" must be a non-empty list/);
  assert.match(text, /invalid nameserver "dns\.example\.com"/);
});
