/**
 * Host port conflicts: a port another container forwards, or the host listens on, is
 * refused with both names, the port and the fix; `-p` of agentctl run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePublish, portConflict } from '../../../../agent/core/network/ports.js';

test('a port forwarded by another container or listened on by the host is refused, naming both and the fix', () => {
  const held = [{ container: 'web', host: 8080, protocol: 'tcp' as const }, { container: 'dns', host: 53, protocol: 'udp' as const }];
  const taken = portConflict('api', [{ host: 9000, protocol: 'tcp' }, { host: 8080, protocol: 'tcp' }], held, new Set());
  assert.equal(taken?.code, 'container.port-taken');
  assert.equal(taken?.message, 'host port 8080/tcp is already forwarded by container web');
  assert.equal(taken?.subject, 'container api');
  assert.match(taken!.hint!, /Give api or web another host port/);
  const host = portConflict('api', [{ host: 2379, protocol: 'tcp' }], held, new Set(['2379/tcp']));
  assert.match(host!.message, /host port 2379\/tcp is in use on this host/);
  assert.match(host!.hint!, /ss -lntup 'sport = :2379'/);
  assert.equal(portConflict('api', [{ host: 8080, protocol: 'udp' }, { host: 53, protocol: 'tcp' }], held, new Set(['2379/tcp'])), undefined, 'other protocols are other ports');
  assert.equal(portConflict('web', [{ host: 8080, protocol: 'tcp' }], held, new Set()), undefined, 'a container does not conflict with itself');
});

test('-p HOST:CONTAINER[/PROTO], or PORT', () => {
  assert.deepEqual(parsePublish('8080:80'), { host: 8080, container: 80, protocol: 'tcp' });
  assert.deepEqual(parsePublish('5353:53/udp'), { host: 5353, container: 53, protocol: 'udp' });
  assert.deepEqual(parsePublish('9000'), { host: 9000, container: 9000, protocol: 'tcp' });
  for (const bad of ['', '0:80', '70000:80', '80:', 'a:b', '80:80/sctp', '127.0.0.1:80:80']) assert.equal(typeof parsePublish(bad), 'string', bad);
});
