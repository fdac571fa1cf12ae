import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ImageUpdatesDocument } from '../../../agent/api/agent1.js';
import { imageOfRun, networkOfRun, portsOfRun } from '../../../agent/daemon/container-run.js';
import { autoUpdateHolders, imageInUse } from '../../../agent/daemon/image-service.js';
import type { ImageInfo } from '../../../agent/host/images/store.js';

const ID = `sha512-${'ab'.repeat(64)}`;
const OTHER = `sha512-${'cd'.repeat(64)}`;

test('the in-use error names each container once, with every reason, and says how to free the image', () => {
  const image = { id: ID, name: 'example.com/web' } as ImageInfo;
  const e = imageInUse(image, [
    { imageId: ID, container: 'web', why: 'declared' },
    { imageId: ID, container: 'web', why: 'unit running' },
    { imageId: ID, container: 'job', why: 'one-off run failed' },
    { imageId: ID, container: 'web', why: 'declared' },
  ]);
  assert.equal(e.code, 'image.in-use');
  assert.equal(e.subject, ID);
  assert.equal(e.message, 'image example.com/web sha512-abababababab is in use by containers web (declared, unit running), job (one-off run failed)');
  assert.match(e.hint!, /host-agent\.containers.*agentctl rm.*auto-update: true/);
  assert.match(imageInUse(image, [{ imageId: ID, container: 'web', why: 'declared' }]).message, /by container web \(declared\)$/);
});

test('auto-update holds the current, staged and rollback image of each container', () => {
  const doc = {
    settleSeconds: 30,
    containers: [
      { name: 'web', image: 'example.com/web:1', failed: [], current: { id: ID }, staged: { id: OTHER }, previous: { id: OTHER } },
      { name: 'idle', image: 'example.com/idle', failed: [] },
    ],
  } as unknown as ImageUpdatesDocument;
  assert.deepEqual(autoUpdateHolders(doc), [
    { imageId: ID, container: 'web', why: 'current image of auto-update' },
    { imageId: OTHER, container: 'web', why: 'staged by auto-update' },
    { imageId: OTHER, container: 'web', why: 'rollback image of auto-update' },
  ]);
});

test('the image ID and network of a run are read back from its unit description', () => {
  assert.equal(imageOfRun(`Container run job (example.com/web, ${ID})`), ID);
  assert.equal(imageOfRun(`Container run job (network default, example.com/web, ${ID})`), ID);
  assert.equal(networkOfRun(`Container run job (network backend-2, example.com/web, ${ID})`), 'backend-2');
  assert.equal(networkOfRun(`Container run job (example.com/web, ${ID})`), 'host', 'a run of an older agent shares the host\'s network');
  const withPorts = `Container run job (network default, ports 8080:80/tcp 5353:53/udp, example.com/web, ${ID})`;
  assert.deepEqual(portsOfRun(withPorts), [{ host: 8080, container: 80, protocol: 'tcp' }, { host: 5353, container: 53, protocol: 'udp' }]);
  assert.equal(imageOfRun(withPorts), ID);
  assert.equal(networkOfRun(withPorts), 'default');
  assert.deepEqual(portsOfRun(`Container run job (network default, example.com/web, ${ID})`), []);
  assert.equal(imageOfRun('Container run job (example.com/web)'), undefined, 'a run of an older agent');
  assert.equal(imageOfRun(`Container job (${ID}x)`), undefined);
});
