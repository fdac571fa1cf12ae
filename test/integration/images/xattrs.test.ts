/**
 * Extended attributes survive extraction: an archive made by GNU tar from a tree with a
 * file capability and a user attribute is extracted by extractAci, and getfattr/getcap
 * read them back. Namespaces we do not restore and values tar-stream cannot read
 * faithfully are refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DEFAULT_EXTRACT_LIMITS, extractAci } from '../../../agent/host/images/extract.js';
import { imageManifest, writeAci } from '../../lib/aci.js';
import { tmpdir } from '../../lib/tmpdir.js';

const run = promisify(execFile);
const options = { image: 'example.com/x', limits: { ...DEFAULT_EXTRACT_LIMITS, maxBytes: 1 << 30 }, allowDevices: false, keepOwnership: true };

test('file capabilities and user attributes written by GNU tar are restored', async (t) => {
  const dir = await tmpdir(t);
  const src = join(dir, 'src');
  await mkdir(join(src, 'rootfs/bin'), { recursive: true });
  await writeFile(join(src, 'manifest'), imageManifest('example.com/x'));
  await writeFile(join(src, 'rootfs/bin/ping'), 'not really ping\n', { mode: 0o755 });
  await writeFile(join(src, 'rootfs/bin/weird name'), 'x\n');
  await run('setcap', ['cap_net_raw=ep', join(src, 'rootfs/bin/ping')]).catch(() => run('setfattr', ['-n', 'security.capability', '-v', '0x0100000200200000000000000000000000000000', join(src, 'rootfs/bin/ping')]));
  await run('setfattr', ['-n', 'user.origin', '-v', 'test', join(src, 'rootfs/bin/weird name')]);
  const archive = join(dir, 'x.aci');
  await run('tar', ['--create', '--format=pax', '--xattrs', '--xattrs-include=*', `--file=${archive}`, `--directory=${src}`, 'manifest', 'rootfs']);

  const dest = join(dir, 'dest');
  await mkdir(dest);
  await extractAci(createReadStream(archive), dest, options);
  const { stdout } = await run('getfattr', ['-d', '-m', '-', '-e', 'hex', '--absolute-names', join(dest, 'rootfs/bin/ping'), join(dest, 'rootfs/bin/weird name')]);
  assert.match(stdout, /security\.capability=0x0100000200200000000000000000000000000000/);
  assert.match(stdout, /user\.origin=0x74657374/);
});

test('trusted.* attributes and binary values that cannot be read faithfully are refused', async (t) => {
  const dir = await tmpdir(t);
  for (const [pax, why] of [
    [{ 'SCHILY.xattr.trusted.overlay.opaque': 'y' }, /trusted\.overlay\.opaque, which images may not set/],
    [{ 'SCHILY.xattr.security.capability': '\u0001\uFFFD' }, /binary extended attribute security\.capability/],
  ] as const) {
    const archive = await writeAci(join(dir, `x-${Date.now()}.aci`), [
      { name: 'manifest', content: imageManifest('example.com/x') },
      { name: 'rootfs', type: 'directory' },
      { name: 'rootfs/f', content: 'x', pax: { ...pax } },
    ]);
    const dest = await tmpdir(t);
    await assert.rejects(extractAci(createReadStream(archive), dest, options), (e: any) => {
      assert.equal(e.code, 'image.unsupported-xattr');
      assert.match(e.message, why);
      assert.ok(e.hint);
      return true;
    });
  }
});
