import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { withResolvedExec } from '../../../../agent/host/containers/resolve-exec.js';
import { spec } from '../../core/containers/helpers.js';
import { tmpdir } from '../../../lib/tmpdir.js';

async function file(layer: string, path: string): Promise<void> {
  await mkdir(join(layer, path, '..'), { recursive: true });
  await writeFile(join(layer, path), '#!/bin/sh\n', { mode: 0o755 });
}

test('a bare program name is found on PATH in the layers, top layer first; a whiteout hides it', async (t) => {
  const dir = await tmpdir(t);
  const [bottom, top] = [join(dir, 'bottom'), join(dir, 'top')];
  await file(bottom, 'usr/sbin/nginx');
  await file(bottom, 'usr/bin/env');
  await file(bottom, 'bin/busybox');
  await mkdir(join(top, 'usr/bin'), { recursive: true });
  execFileSync('mknod', [join(top, 'usr/bin/env'), 'c', '0', '0']); // an OCI whiteout, as extracted
  await symlink('busybox', join(top, 'sh'));
  const base = spec();
  const image = { ...base.image, run: { ...base.image.run!, environment: [['PATH', '/usr/local/bin:/usr/bin:/usr/sbin']] as Array<[string, string]> } };
  const layers = [bottom, top];

  const nginx = await withResolvedExec({ ...base, image, exec: ['nginx', '-g', 'daemon off;'] }, layers);
  assert.deepEqual(nginx.exec, ['/usr/sbin/nginx', '-g', 'daemon off;']);
  // The image's own command (no exec declared) is resolved too.
  const fromImage = await withResolvedExec({ ...base, exec: undefined, image: { ...image, run: { ...image.run, exec: ['nginx'] } } }, layers);
  assert.deepEqual(fromImage.exec, ['/usr/sbin/nginx']);
  // Whited out in the top layer: not found, left as it is (the spec check refuses it).
  assert.deepEqual((await withResolvedExec({ ...base, image, exec: ['env'] }, layers)).exec, ['env']);
  // The container's PATH wins over the image's; absolute and relative-with-slash names are kept.
  assert.deepEqual((await withResolvedExec({ ...base, image, environment: { PATH: '/bin' }, exec: ['busybox', 'sh'] }, layers)).exec, ['/bin/busybox', 'sh']);
  assert.deepEqual((await withResolvedExec({ ...base, image, exec: ['/usr/sbin/nginx'] }, layers)).exec, ['/usr/sbin/nginx']);
  assert.deepEqual((await withResolvedExec({ ...base, image, exec: ['./nginx'] }, layers)).exec, ['./nginx']);
});
