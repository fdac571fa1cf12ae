/**
 * A full file system (a small tmpfs the test mounts): an atomic write fails with
 * `disk.full` naming the file and the free space, leaves the old content and no temp file;
 * a damaged state file whose repair cannot be written is left in place and its value used.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isAgentError } from '../../../agent/core/errors.js';
import { stageFile, writeFileAtomic } from '../../../agent/host/fs/atomic.js';
import { readFailedVersions } from '../../../agent/host/update/failed-versions.js';
import { fill, smallFs } from '../../lib/small-fs.js';

test('an atomic write on a full disk: disk.full naming the path and the free space; the old file stays', async (t) => {
  const dir = await smallFs(t, '64k');
  const path = join(dir, 'settings.conf');
  await writeFileAtomic(path, 'old\n');
  await fill(dir);
  await assert.rejects(writeFileAtomic(path, Buffer.alloc(32 * 1024, 'x')), (e) => {
    assert.ok(isAgentError(e, 'disk.full'), String(e));
    assert.equal(e.subject, path);
    assert.match(e.message, /^no space left on the file system \(\d+ bytes free of 64\.0 KiB\)$/);
    assert.match(e.hint!, new RegExp(`df -h ${dir}`));
    assert.match(e.describe(), new RegExp(`^${path}: no space left`));
    return true;
  });
  assert.equal(await readFile(path, 'utf8'), 'old\n');
  assert.deepEqual((await readdir(dir)).sort(), ['filler', 'settings.conf'], 'no temp file left');
});

test('staging on a full disk fails the same way and leaves nothing', async (t) => {
  const dir = await smallFs(t, '64k');
  await fill(dir);
  await assert.rejects(stageFile(join(dir, 'sub/new.conf'), Buffer.alloc(8192), { mkdirs: true }), (e) => isAgentError(e, 'disk.full') && e.subject === join(dir, 'sub/new.conf'));
  assert.deepEqual(await readdir(join(dir, 'sub')).catch(() => []), []);
});

test('a damaged file whose repair cannot be written: the original stays, its good entries are used', async (t) => {
  const dir = await smallFs(t, '64k');
  const path = join(dir, 'failed-versions.json');
  const text = '{"versions":["2.0.0",7]}';
  await writeFile(path, text);
  await fill(dir);
  const warnings: string[] = [];
  assert.deepEqual(await readFailedVersions(path, (m) => warnings.push(m)), ['2.0.0']);
  assert.equal(await readFile(path, 'utf8'), text);
  assert.match(warnings.join('\n'), /the repaired file cannot be written \(.*no space left on the file system.*\); the original is left in place/);
  assert.deepEqual((await readdir(dir)).sort(), ['failed-versions.json', 'filler']);
});
