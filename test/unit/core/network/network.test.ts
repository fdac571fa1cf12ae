import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseNetwork } from '../../../../agent/core/network/choice.js';
import { conflistProblems, pluginInput, resultAddresses } from '../../../../agent/core/network/conflist.js';
import { macvlanProblems } from '../../../../agent/core/network/macvlan.js';
import type { CniConflist } from '../../../../agent/core/network/types.js';
import { containerHosts, containerResolvConf, parseResolvConf } from '../../../../agent/core/network/names.js';
import { chooseSubnet, parseProcRoutes, pickSubnet } from '../../../../agent/core/network/subnet.js';

const PROC_ROUTE = `Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0
eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
wg0\t00001CAC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
hostagent0\t001D10AC\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
`;

test('routes from /proc/net/route; the subnet avoids every route but the default one and our own bridge', () => {
  const routes = parseProcRoutes(PROC_ROUTE);
  assert.deepEqual(routes, [
    { iface: 'eth0', dst: 0, prefix: 0 },
    { iface: 'eth0', dst: 0xc0000200, prefix: 24 },
    { iface: 'wg0', dst: 0xac1c0000, prefix: 16 },
    { iface: 'hostagent0', dst: 0xac101d00, prefix: 24 },
  ]);
  // 172.28.0.0/16 (wg0) does not touch 172.16.28.0/24: the first candidate is free.
  assert.equal(pickSubnet(routes, 'hostagent0'), '172.16.28.0/24');
  // A /12 route over 172.16.0.0 takes every 172.16-31 candidate; our own bridge's route does not count.
  const wide = [...routes, { iface: 'vpn0', dst: 0xac100000, prefix: 12 }];
  assert.equal(pickSubnet(wide, 'hostagent0'), '10.88.28.0/24');
  assert.equal(pickSubnet(routes, 'other0', ['172.16.29.0/24']), undefined, 'another bridge\'s route counts');
  assert.equal(pickSubnet([{ iface: 'x', dst: 0, prefix: 1 }, { iface: 'y', dst: 0x80000000, prefix: 1 }], 'b'), undefined);
});

test('a network that is up keeps its subnet: the route of its own interface wins over the candidates', () => {
  const routes = parseProcRoutes(PROC_ROUTE);
  assert.equal(chooseSubnet(routes, 'hostagent0'), '172.16.29.0/24', 'hostagent0 has 172.16.29.0/24 already');
  assert.equal(chooseSubnet(routes, 'hostagent'), '172.16.28.0/24', 'a new interface: the first free candidate');
  // An older agent's bridge holding the first candidate: the next one.
  const old = [...routes, { iface: 'hostagent0', dst: 0xac101c00, prefix: 24 }];
  assert.equal(chooseSubnet(old.filter((r) => r.dst !== 0xac101d00), 'hostagent'), '172.16.29.0/24');
});

test('conflist checks name each problem', () => {
  assert.deepEqual(conflistProblems({ cniVersion: '1.0.0', plugins: [{ type: 'bridge' }] }), []);
  assert.deepEqual(conflistProblems([]), ['a CNI conflist is a JSON object with "cniVersion", "name" and "plugins"']);
  assert.deepEqual(conflistProblems({ plugins: [] }), ['"plugins" must be a non-empty list of plugin configurations, e.g. [{"type": "bridge", …}]']);
  assert.deepEqual(conflistProblems({ name: 'Bad Name', plugins: [{ type: '../../bin/sh' }, 3] }), [
    '"name" must be lower-case letters, digits, ".", "_" or "-" (at most 63)',
    'plugins[0].type must name a plugin binary in the CNI path (e.g. "bridge"), without "/"',
    'plugins[1] must be an object',
  ]);
});

test('each plugin gets the list\'s name and version, its capabilities\' runtime config, the previous result', () => {
  const list: CniConflist = {
    cniVersion: '1.0.0', name: 'default',
    plugins: [{ type: 'bridge', bridge: 'br9' }, { type: 'portmap', capabilities: { portMappings: true }, snat: true }, { type: 'firewall' }],
  };
  const ports = [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' as const }];
  const prev = { cniVersion: '1.0.0', ips: [{ address: '172.16.28.2/24' }] };
  assert.deepEqual(pluginInput(list, list.plugins[1]!, { portMappings: ports }, prev), {
    type: 'portmap', snat: true, capabilities: { portMappings: true }, cniVersion: '1.0.0', name: 'default',
    runtimeConfig: { portMappings: ports }, prevResult: prev,
  });
  const bridge = pluginInput(list, list.plugins[0]!, { portMappings: ports }, undefined);
  assert.equal('runtimeConfig' in bridge || 'prevResult' in bridge, false, 'no capability asked, no previous result');
  assert.deepEqual(resultAddresses(prev), ['172.16.28.2']);
  assert.deepEqual(resultAddresses(undefined), []);
});

test('resolv.conf: the declared servers, else the host\'s without loopback ones; hosts names the container', () => {
  const host = parseResolvConf('# x\nnameserver 127.0.0.53\nnameserver 192.0.2.53\nsearch example.com\noptions edns0\n');
  assert.equal(containerResolvConf(host, []), '# Written by host-agent for this container.\nnameserver 192.0.2.53\nsearch example.com\noptions edns0\n');
  assert.equal(containerResolvConf(host, ['198.51.100.1']), '# Written by host-agent for this container.\nnameserver 198.51.100.1\n');
  assert.equal(containerHosts('web', ['172.16.28.2']), '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n172.16.28.2\tweb\n');
});

test('a declaration chooses its network: default unless said otherwise, fly on the host\'s', () => {
  const declared = [{ name: 'backend', conflist: { plugins: [{ type: 'bridge' }] } }];
  assert.deepEqual(chooseNetwork({ dns: ['192.0.2.53'], isolation: 'nspawn' }, declared), { mode: 'default', dns: ['192.0.2.53'] });
  assert.deepEqual(chooseNetwork({ dns: [], isolation: 'fly' }, declared), { mode: 'host' });
  assert.deepEqual(chooseNetwork({ network: 'none', dns: [], isolation: 'nspawn' }, declared), { mode: 'none' });
  assert.deepEqual(chooseNetwork({ network: 'backend', dns: [], isolation: 'nspawn' }, declared), {
    mode: 'cni', conflist: { cniVersion: '1.0.0', name: 'backend', plugins: [{ type: 'bridge' }] }, dns: [],
  });
  assert.match(chooseNetwork({ network: 'nope', dns: [], isolation: 'nspawn' }, declared) as string, /network "nope" is not declared/);
  // A declared `default` replaces the built-in network, as in rkt.
  const own = [{ name: 'default', conflist: { plugins: [{ type: 'bridge' }] } }];
  assert.deepEqual(chooseNetwork({ dns: [], isolation: 'nspawn' }, own), {
    mode: 'cni', conflist: { cniVersion: '1.0.0', name: 'default', plugins: [{ type: 'bridge' }] }, dns: [],
  });
});

test('the built-in network\'s settings are checked before they reach the unit\'s scripts', () => {
  assert.deepEqual(macvlanProblems({ name: 'default', iface: 'hostagent0', subnet: '172.16.28.0/24' }), []);
  assert.deepEqual(macvlanProblems({ name: 'Default', iface: 'a b', subnet: '172.16.28.0/31' }), [
    'the network\'s host interface "a b" must be 1-13 letters, digits, "_", "." or "-" (its parent device is "<name>-p")',
    'the network\'s subnet "172.16.28.0/31" must be an IPv4 subnet from /8 to /30, such as 172.16.28.0/24',
    'the network\'s name "Default" must be lower-case letters, digits, ".", "_" or "-"',
  ]);
  assert.equal(macvlanProblems({ name: 'default', iface: 'hostagent0', subnet: '300.1.1.0/24' }).length, 1);
});
