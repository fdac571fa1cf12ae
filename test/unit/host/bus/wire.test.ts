import { test } from 'node:test';
import assert from 'node:assert/strict';
import { marshalCall, messageLength, unmarshalMessage, MessageType } from '../../../../agent/host/bus/wire.js';
import { unixSocketPaths, busAddress, busKindFromEnv } from '../../../../agent/host/bus/address.js';

test('a marshalled call unmarshals to the same header fields and body', () => {
  const bytes = marshalCall({
    serial: 7, destination: 'org.example', path: '/org/example', interface: 'org.example.I', member: 'Do',
    signature: 'sasub', body: ['héllo', ['a', 'bc'], 42, true],
  });
  assert.equal(bytes.length % 1, 0);
  assert.equal(messageLength(bytes), bytes.length);
  assert.equal(messageLength(bytes.subarray(0, bytes.length - 1)), undefined);
  const msg = unmarshalMessage(bytes);
  assert.equal(msg.type, MessageType.MethodCall);
  assert.equal(msg.serial, 7);
  assert.equal(msg.path, '/org/example');
  assert.equal(msg.member, 'Do');
  assert.deepEqual(msg.body, ['héllo', ['a', 'bc'], 42, true]);
});

test('header is padded to 8 bytes before the body', () => {
  const bytes = marshalCall({ serial: 1, destination: 'a.b', path: '/', interface: 'a.b', member: 'M' });
  assert.equal(bytes.length % 8, 0);
});

test('bus addresses', () => {
  assert.deepEqual(unixSocketPaths('unix:path=/run/bus;unix:abstract=foo,guid=1'), ['/run/bus', '\0foo']);
  assert.deepEqual(unixSocketPaths('tcp:host=x,port=1'), []);
  assert.equal(busAddress('system', {}), 'unix:path=/run/dbus/system_bus_socket');
  assert.equal(busAddress('session', { XDG_RUNTIME_DIR: '/r' }), 'unix:path=/r/bus');
  assert.throws(() => busAddress('session', {}), /no session bus/);
  assert.equal(busKindFromEnv({}), 'system');
  assert.equal(busKindFromEnv({ HOST_AGENT_BUS: 'session' }), 'session');
  assert.throws(() => busKindFromEnv({ HOST_AGENT_BUS: 'tcp' }), /not a bus/);
});
