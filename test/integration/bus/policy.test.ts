/**
 * The D-Bus policy of units/org.hostagent.Agent1.conf on a bus configured like the system
 * bus: reads are open to every user, changes are refused to anyone but root. Also the
 * agent's behaviour when systemd is not on its bus: it keeps serving and says why.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AgentStatus } from '../../../agent/api/agent1.js';
import { AGENT_METHODS } from '../../../agent/api/agent1.js';
import { startSystemLikeBus, type SystemLikeBus } from '../../lib/system-bus.js';
import { agentctl, startAgentProcess } from '../../lib/agent.js';
import { REPO } from '../../lib/repo.js';
import { tmpdir } from '../../lib/tmpdir.js';

const POLICY = join(REPO, 'units/org.hostagent.Agent1.conf');
const NOBODY = 65534;
let bus: SystemLikeBus;
const cleanups: Array<() => unknown> = [];
const suite = { after: (fn: () => unknown) => cleanups.push(fn) };

before(async () => {
  bus = await startSystemLikeBus(suite, [POLICY]);
  const state = await tmpdir(suite);
  await startAgentProcess(suite, ['--system', `--config=${state}/none.yaml`, `--config-dir=${state}/none.d`, `--system-config-dir=${state}/none.d`, `--state-dir=${state}`, `--runtime-dir=${state}/run`, `--host-root=${state}/root`], bus.env);
});

after(async () => {
  for (const fn of cleanups.reverse()) await fn();
});

test('the policy opens exactly the read methods of the API table to everyone', async () => {
  const xml = await readFile(POLICY, 'utf8');
  const defaultPolicy = xml.slice(xml.indexOf('<policy context="default">'));
  const allowed = [...defaultPolicy.matchAll(/send_interface="org\.hostagent\.Agent1" send_member="(\w+)"/g)].map((m) => m[1]).sort();
  const reads = Object.entries(AGENT_METHODS).filter(([, m]) => m.access === 'read').map(([n]) => n).sort();
  assert.deepEqual(allowed, reads);
});

test('an unprivileged user reads the status', async () => {
  const r = await agentctl(['status', '--json'], { env: bus.env, uid: NOBODY, gid: NOBODY });
  assert.equal(r.code, 1, `degraded (no systemd on this bus), and readable: ${r.stderr}`);
  assert.equal((JSON.parse(r.stdout) as AgentStatus).systemd.bus, 'system');
});

test('an unprivileged user is refused a root-only method by the policy', async () => {
  const r = await agentctl(['reload'], { env: bus.env, uid: NOBODY, gid: NOBODY });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /Reload was refused: Rejected send message/, 'refused by the bus policy, before reaching the agent');
  assert.match(r.stderr, /^agentctl: access denied: run as root\. /);
});

test('root may call it', async () => {
  const r = await agentctl(['reload'], { env: bus.env });
  assert.equal(r.code, 0, r.stderr);
});

test('without systemd on the bus the agent serves and says why it is not connected', async () => {
  const r = await agentctl(['status', '--json'], { env: bus.env });
  const s = JSON.parse(r.stdout) as AgentStatus;
  assert.equal(s.systemd.connected, false);
  assert.match(s.systemd.error ?? '', /systemd/);
  assert.ok(s.systemd.nextRetryAt && Date.parse(s.systemd.nextRetryAt) > Date.parse(s.startedAt), 'a retry is scheduled');
  const human = await agentctl(['status'], { env: bus.env });
  assert.match(human.stdout, /systemd: not connected/);
  assert.match(human.stdout, /— degraded\n {4}Failed: systemd is not connected\n/);
  assert.equal(human.code, 1);
});
