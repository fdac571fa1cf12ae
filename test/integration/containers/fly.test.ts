/**
 * Containers of isolation fly (a RootDirectory= sandbox, like rkt fly) on a real
 * (sandboxed) systemd manager: the overlay is mounted by the container's rootfs unit and
 * unmounted when the container stops; the payload sees the image tree, its volume and
 * nothing else of the host's files; /etc is read-only (ProtectSystem=full); its writes land
 * in its own layer and the shared image tree is unchanged.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { rootfsUnitName } from '../../../agent/core/containers/render.js';
import { makeWorld, treeSnapshot, waitForFile, waitInactive, type World } from './world.js';

let w: World;
const cleanups: Array<() => unknown> = [];
const suite = { after: (fn: () => unknown) => cleanups.push(fn) };

before(async () => {
  w = await makeWorld(suite);
});

after(async () => {
  for (const fn of cleanups.reverse()) await fn();
});

test('a fly container runs in its own root with its own writable layer', async () => {
  const before = await treeSnapshot(w.image.rootfs);
  const data = join(w.scratch, 'fly');
  await mkdir(data, { recursive: true });
  const marker = join(w.scratch, 'host-only-marker');
  await writeFile(marker, 'secret\n');
  const script = [
    'ls / > /data/root',
    `test -e ${marker} && echo visible > /data/leak || echo hidden > /data/leak`,
    '(echo x > /etc/blocked) 2>/dev/null && echo writable > /data/etc || echo read-only > /data/etc',
    'echo "$GREETING" > /data/env',
    'mkdir -p /var/app && echo kept > /var/app/state',
    'echo done > /data/done',
  ].join('; ');
  const unit = await w.run(w.spec('flyer', {
    isolation: 'fly',
    exec: ['/bin/sh', '-c', script],
    environment: { GREETING: 'fly $HOME %n "q"' },
    volumes: [{ host: data, path: '/data', readOnly: false }],
  }));
  await waitForFile(join(data, 'done'));
  assert.equal((await readFile(join(data, 'leak'), 'utf8')).trim(), 'hidden');
  assert.ok((await readFile(join(data, 'root'), 'utf8')).split('\n').includes('www'), 'the root is the image tree');
  assert.equal((await readFile(join(data, 'etc'), 'utf8')).trim(), 'read-only', 'ProtectSystem=full keeps /etc read-only');
  assert.equal((await readFile(join(data, 'env'), 'utf8')).trim(), 'fly $HOME %n "q"');
  await waitInactive(w.systemd, unit);

  // The rootfs unit is stopped with the container, so nothing stays mounted.
  assert.equal(await waitInactive(w.systemd, rootfsUnitName('flyer')), 'inactive');
  const manager = Number(await readFile(join(w.sbx.dir, 'systemd.pid'), 'utf8'));
  assert.ok(!(await readFile(`/proc/${manager}/mountinfo`, 'utf8')).includes(w.units.paths('flyer').merged), 'the overlay is unmounted');

  assert.equal(await readFile(join(w.units.paths('flyer').upper, 'var/app/state'), 'utf8'), 'kept\n');
  assert.deepEqual(await treeSnapshot(w.image.rootfs), before, 'no file of the image tree changed');
});
