/**
 * `agentctl lock` against a real etcd with no agent running: status (human and --json),
 * set-max, unlock by id and of this host, locksmithctl's environment variables, and the
 * errors for an unreachable endpoint and bad arguments.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openEtcdLock } from '../../../agent/host/lock/open.js';
import { agentctl } from '../../lib/agent.js';
import { freePort, startEtcd } from '../../lib/etcd.js';
import { tmpdir } from '../../lib/tmpdir.js';

const A = 'a'.repeat(32);
const B = 'b'.repeat(32);

test('agentctl lock status, set-max, unlock', async (t) => {
  const etcd = await startEtcd(t);
  const dir = await tmpdir(t);
  const env = { ...process.env, HOST_AGENT_BUS: 'session', DBUS_SESSION_BUS_ADDRESS: `unix:path=${dir}/no-bus` };
  const flags = ['--endpoint', etcd.endpoint, '--group', 'web'];
  const lock = (...args: string[]) => agentctl(['lock', ...args], { env });

  let r = await lock('status', '--json', ...flags);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), {
    key: 'coreos.com/updateengine/rebootlock/groups/web/semaphore', available: 1, max: 1, holders: [],
  });

  r = await lock('set-max', '2', ...flags);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'Max: 2 (available: 2)\n');
  for (const id of [A, B]) assert.deepEqual(await openEtcdLock({ endpoint: etcd.endpoint, group: 'web', id }).acquire(), { acquired: true });

  r = await lock('status', ...flags);
  assert.equal(r.stdout, `Available: 0\nMax: 2\n\nMACHINE ID\n${A}\n${B}\n`);

  r = await lock('unlock', B, ...flags);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `Unlocked ${B}.\n`);
  r = await lock('unlock', B, ...flags);
  assert.equal(r.stdout, `${B} holds no slot; nothing changed.\n`);

  // This host's id from its machine-id file; endpoint and group from LOCKSMITHCTL_* variables.
  await writeFile(join(dir, 'machine-id'), `${A}\n`);
  const lsEnv = { ...env, HOST_AGENT_MACHINE_ID_FILE: join(dir, 'machine-id'), LOCKSMITHCTL_ENDPOINT: etcd.endpoint, LOCKSMITHCTL_GROUP: 'web' };
  r = await agentctl(['lock', 'unlock'], { env: lsEnv });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `Unlocked ${A}.\n`);
  r = await agentctl(['lock', 'status', '--json'], { env: lsEnv });
  assert.deepEqual(JSON.parse(r.stdout).holders, []);
  assert.equal(JSON.parse(r.stdout).available, 2);
});

test('agentctl lock: unreachable endpoint and bad arguments', async () => {
  const env = { ...process.env, HOST_AGENT_BUS: 'session' };
  const endpoint = `http://127.0.0.1:${await freePort()}`;
  let r = await agentctl(['lock', 'status', '--endpoint', endpoint], { env });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /cannot reach http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/);

  r = await agentctl(['lock', 'set-max', 'two', '--endpoint', endpoint], { env });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /lock set-max needs one whole number/);
  r = await agentctl(['lock', 'grab'], { env });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown sub-verb "lock grab"\. Sub-verbs: status, set-max, unlock/);
});
