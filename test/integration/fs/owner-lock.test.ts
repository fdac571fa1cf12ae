/**
 * The owner lock on a real file system with real processes: held while its owner lives,
 * refused to others with the owner's PID, taken over once the owner is killed (-9), not
 * fooled by a PID whose process started at another time, and released only by its owner;
 * taken on a file system with no free block left.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isLock, tryLock } from '../../../agent/host/fs/owner-lock.js';
import { REPO } from '../../lib/repo.js';
import { tmpdir } from '../../lib/tmpdir.js';
import { fill, smallFs } from '../../lib/small-fs.js';

const LOCK = join(REPO, 'agent/host/fs/owner-lock.ts');

test('another live process holds the lock; after kill -9 it is taken over', async (t) => {
  const path = join(await tmpdir(t, 'lock-'), '.lock');
  const holder = spawn(process.execPath, ['--import', 'tsx', '-e',
    `const { tryLock } = await import(${JSON.stringify(LOCK)}); await tryLock(${JSON.stringify(path)}); console.log('held'); setInterval(() => {}, 1000);`],
  { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => { if (holder.exitCode === null && holder.signalCode === null) holder.kill('SIGKILL'); });
  await once(holder.stdout!, 'data');

  const busy = await tryLock(path);
  assert.ok(!isLock(busy));
  assert.equal(busy.pid, holder.pid);

  holder.kill('SIGKILL');
  await once(holder, 'exit');
  const taken = await tryLock(path);
  assert.ok(isLock(taken), 'the lock of a dead process is stale');
  assert.match(await readlink(path), new RegExp(`^${process.pid} \\d+$`), 'a symbolic link naming its owner');
  await taken.release();
  await assert.rejects(readFile(path), { code: 'ENOENT' });
});

test('a PID that now names a process started at another time is not the owner', async (t) => {
  const path = join(await tmpdir(t, 'lock-'), '.lock');
  await writeFile(path, `${process.pid} 1\n`); // our PID, but not our start time
  const taken = await tryLock(path);
  assert.ok(isLock(taken));
  await taken.release();
});

test('release leaves a lock that is no longer ours alone', async (t) => {
  const path = join(await tmpdir(t, 'lock-'), '.lock');
  const taken = await tryLock(path);
  assert.ok(isLock(taken));
  await rm(path);
  await writeFile(path, '1 1\n'); // taken over meanwhile (as after a stale takeover)
  await taken.release();
  assert.equal(await readFile(path, 'utf8'), '1 1\n');
});

test('the lock is taken on a full file system (its owner lives in the link, not a data block)', async (t) => {
  const dir = await smallFs(t, '16k');
  await fill(dir);
  const taken = await tryLock(join(dir, '.lock'));
  assert.ok(isLock(taken));
  const busy = spawnSync(process.execPath, ['--import', 'tsx', '-e',
    `const { tryLock } = await import(${JSON.stringify(LOCK)}); console.log(JSON.stringify(await tryLock(${JSON.stringify(join(dir, '.lock'))})));`],
  { cwd: REPO, encoding: 'utf8' });
  assert.deepEqual(JSON.parse(busy.stdout), { pid: process.pid }, busy.stderr);
  await taken.release();
});
