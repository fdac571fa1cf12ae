/**
 * The host side without a systemd manager: host facts read from (fake) cgroup and module
 * trees, volume host paths checked on the real file system, unit files written, listed
 * with their spec hash and removed, and the writable layer kept until removed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { access, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readHostFacts } from '../../../agent/host/containers/host-facts.js';
import { ContainerUnits } from '../../../agent/host/containers/units.js';
import { UnitFileStore } from '../../../agent/host/systemd/unit-files.js';
import { ContainerSpecError } from '../../../agent/core/containers/validate.js';
import { isAgentError } from '../../../agent/core/errors.js';
import type { ContainerSpec } from '../../../agent/core/containers/spec.js';
import { validateImageManifest } from '../../../agent/core/appc/manifest.js';
import { appcRecord } from '../../../agent/core/appc/record.js';
import { layerDirOf } from '../../../agent/host/images/store.js';
import { tmpdir } from '../../lib/tmpdir.js';

const manifest = validateImageManifest({ acKind: 'ImageManifest', acVersion: '0.8.11', name: 'example.com/app', app: { exec: ['/bin/app'], user: '0', group: '0' } });
const ID = `sha512-${'ab'.repeat(64)}`;

function spec(fields: Partial<ContainerSpec> = {}): ContainerSpec {
  return { name: 'app', image: appcRecord(manifest, ID), environment: {}, volumes: [], ports: [], restart: 'no', isolation: 'nspawn', ...fields };
}

async function fakeHost(dir: string, v1: boolean): Promise<{ cgroupRoot: string; overlayParameters: string; filesystems: string }> {
  const cgroupRoot = join(dir, 'cgroup');
  if (v1) {
    await mkdir(join(cgroupRoot, 'memory'), { recursive: true });
    await writeFile(join(cgroupRoot, 'memory/memory.limit_in_bytes'), '9223372036854771712\n');
  }
  await mkdir(join(cgroupRoot, 'unified'), { recursive: true });
  const overlayParameters = join(dir, 'overlay');
  await mkdir(overlayParameters, { recursive: true });
  await writeFile(join(overlayParameters, 'metacopy'), 'N\n');
  const filesystems = join(dir, 'filesystems');
  await writeFile(filesystems, 'nodev\tsysfs\nnodev\toverlay\n');
  return { cgroupRoot, overlayParameters, filesystems };
}

test('host facts: a user manager on cgroup v1 needs legacy cgroups; a system manager does not', async (t) => {
  const dir = await tmpdir(t);
  const paths = await fakeHost(dir, true);
  assert.deepEqual(await readHostFacts({ bus: 'session', ...paths, cgroupParent: 'p' }), {
    overlay: true, metacopy: true, legacyCgroups: { memory: join(paths.cgroupRoot, 'memory/p') },
  });
  assert.deepEqual(await readHostFacts({ bus: 'system', ...paths }), { overlay: true, metacopy: true });
  const v2 = await fakeHost(join(dir, 'v2'), false);
  assert.deepEqual(await readHostFacts({ bus: 'session', ...v2 }), { overlay: true, metacopy: true });
});

test('install, list, uninstall; the layer stays until removed', async (t) => {
  const dir = await tmpdir(t);
  const stateDir = join(dir, 'state');
  const unitFiles = new UnitFileStore({ persistent: join(dir, 'units'), runtime: join(dir, 'run-units') });
  const units = new ContainerUnits({
    stateDir, unitFiles, images: { layerDir: (layerId) => layerDirOf(stateDir, layerId) },
    facts: { overlay: true, metacopy: true }, output: 'file',
  });
  const volume = join(dir, 'vol');
  await mkdir(volume);

  await assert.rejects(units.render(spec({ volumes: [{ host: join(dir, 'missing'), path: '/data', readOnly: false }] })), (e: unknown) => {
    assert.ok(e instanceof ContainerSpecError);
    assert.deepEqual(e.problems, [{ field: 'volumes[0].host', message: `${join(dir, 'missing')} does not exist on this host; create it first` }]);
    return true;
  });

  await assert.rejects(units.render(spec({ user: '1000' })), (e: unknown) => {
    assert.ok(e instanceof ContainerSpecError);
    assert.deepEqual(e.problems.map((p) => p.field), ['user']);
    assert.match(e.problems[0]!.message, /needs getent in the image to switch to user 1000/);
    return true;
  });
  await mkdir(join(stateDir, 'images', ID, 'rootfs/usr/bin'), { recursive: true });
  await writeFile(join(stateDir, 'images', ID, 'rootfs/usr/bin/getent'), '');
  await units.render(spec({ user: '1000' }));
  assert.ok(await units.render(spec({ user: '1000', isolation: 'fly' })));

  const nspawn = await units.render(spec({ volumes: [{ host: volume, path: '/data', readOnly: false }] }));
  assert.match(nspawn.files[0]!.text, new RegExp(`StandardOutput=append:${join(stateDir, 'containers/app/output.log')}`));
  await units.install('app', nspawn, [ID]);
  assert.equal((await stat(units.paths('app').dir)).mode & 0o777, 0o700);
  for (const d of ['upper', 'work', 'merged'] as const) assert.ok((await stat(units.paths('app')[d])).isDirectory());
  assert.deepEqual(await units.installed(), [{ name: 'app', unit: 'container-app.service', hash: nspawn.hash, imageId: ID, files: ['container-app.service'], imageIds: [ID] }]);

  // Switching to fly adds its rootfs unit; switching back removes it.
  const fly = await units.render(spec({ isolation: 'fly' }));
  await units.install('app', fly, [ID]);
  assert.deepEqual((await units.installed())[0]!.files, ['container-app.rootfs.service', 'container-app.service']);
  assert.equal((await units.installed())[0]!.hash, fly.hash);
  await units.install('app', nspawn, [ID]);
  assert.deepEqual((await units.installed())[0]!.files, ['container-app.service']);

  await writeFile(join(units.paths('app').upper, 'kept'), 'x');
  assert.deepEqual(await units.uninstall('app'), ['container-app.service']);
  assert.deepEqual(await units.installed(), []);
  assert.equal(await readFile(join(units.paths('app').upper, 'kept'), 'utf8'), 'x', 'the layer outlives the unit');
  await units.removeLayer('app');
  await assert.rejects(access(units.paths('app').dir));
});

test('a kernel without overlayfs is a clear error', async (t) => {
  const dir = await tmpdir(t);
  const units = new ContainerUnits({
    stateDir: dir, unitFiles: new UnitFileStore({ persistent: dir, runtime: dir }), images: { layerDir: (layerId) => join(dir, layerId) },
    facts: { overlay: false, metacopy: false }, output: 'journal',
  });
  await assert.rejects(units.render(spec()), (e: unknown) => isAgentError(e, 'container.no-overlay'));
});
