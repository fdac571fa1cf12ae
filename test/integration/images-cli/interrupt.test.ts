/**
 * Ctrl-C during `agentctl fetch` through a running agent: agentd has no method to cancel
 * a fetch, so agentctl says that the agent goes on and ends as SIGINT ends a process; the
 * agent stays up and answers. The image is dripped by a loopback server (1 KiB every
 * 0.5 s), so the fetch is under way when the signal comes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { agentctl, waitForAgent } from '../../lib/agent.js';
import { eventually } from '../../lib/eventually.js';
import { dripServer } from '../../lib/hostile-http.js';
import { REPO } from '../../lib/repo.js';
import { startSystemLikeBus } from '../../lib/system-bus.js';
import { tmpdir } from '../../lib/tmpdir.js';

test('Ctrl-C during agentctl fetch through agentd says the agent goes on, and agentctl ends', async (t) => {
  const bus = await startSystemLikeBus(t, [join(REPO, 'units/org.hostagent.Agent1.conf')]);
  const dir = await tmpdir(t, 'images-interrupt-');
  const env = { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: bus.env.DBUS_SYSTEM_BUS_ADDRESS, HOST_AGENT_BUS: 'system' };
  const agent = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'agentd-images.ts'), join(dir, 'state'), join(dir, 'trust'), join(dir, 'system-trust')], {
    cwd: REPO, env, stdio: ['ignore', 'ignore', 'inherit'],
  });
  t.after(() => {
    if (agent.exitCode === null && agent.signalCode === null) agent.kill('SIGKILL');
  });
  await waitForAgent(env);
  const drip = await dripServer(t);
  const url = `${drip.url}/app.aci`;
  let child: ChildProcess | undefined;
  const fetching = agentctl(['fetch', '--insecure-options=http,image', url], { env, onSpawn: (c) => (child = c) });
  await eventually(async () => drip.requests(), (n) => n > 0, 'the agent to start downloading');
  child!.kill('SIGINT');
  const r = await fetching;
  assert.equal(child!.signalCode, 'SIGINT', `ended by SIGINT (exit ${r.code}): ${r.stderr}`);
  assert.match(r.stderr, new RegExp(`interrupted; agentd goes on fetching ${url.replace(/[.]/g, '\\.')} and stores it when done`));
  const list = await agentctl(['image', 'list', '--json'], { env });
  assert.equal(list.code, 0, list.stderr);
});
