import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isAgentError } from '../../../agent/core/errors.js';
import { readMachineId } from '../../../agent/host/lock/machine-id.js';
import { tmpdir } from '../../lib/tmpdir.js';

test('the holder id is the machine id, checked', async (t) => {
  const dir = await tmpdir(t);
  const path = join(dir, 'machine-id');
  await writeFile(path, '0123456789abcdef0123456789abcdef\n');
  assert.equal(await readMachineId(path), '0123456789abcdef0123456789abcdef');
  await writeFile(path, 'uninitialized\n');
  await assert.rejects(readMachineId(path), (e) => isAgentError(e, 'lock.no-machine-id') && e.subject === path);
  await assert.rejects(readMachineId(join(dir, 'absent')), (e) =>
    isAgentError(e, 'lock.no-machine-id') && /systemd-machine-id-setup/.test(e.hint ?? ''));
});
