/**
 * Who is calling, as agentd's D-Bus service sees it (agent/host/bus/callers.ts), on a
 * private bus configured like the system bus: root and the agent's user may change and
 * read everything, a member of the read group reads everything, others read states; an
 * entry goes when its connection does; a name the bus does not know is unprivileged.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Callers, resolveGroup } from '../../../agent/host/bus/callers.js';
import { connectBus } from '../../../agent/host/systemd/dbus.js';
import { startSystemLikeBus } from '../../lib/system-bus.js';
import { eventually } from '../../lib/eventually.js';
import { REPO } from '../../lib/repo.js';
import { tmpdir } from '../../lib/tmpdir.js';

const NOBODY = 65534;
const cleanups: Array<() => unknown> = [];
const suite = { after: (fn: () => unknown) => cleanups.push(fn) };
after(async () => {
  for (const fn of cleanups.reverse()) await fn();
});

/** A connection of uid/gid nobody; resolves with its unique name and a function that closes it. */
async function nobodyConnection(env: NodeJS.ProcessEnv): Promise<{ name: string; close: () => Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO, 'test/integration/bus/hold-child.ts')], {
    cwd: REPO, env, stdio: ['pipe', 'pipe', 'inherit'], uid: NOBODY, gid: NOBODY,
  });
  suite.after(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  const exited = new Promise((r) => child.once('exit', r));
  const name = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => { out += d; if (out.includes('\n')) resolve(out.trim()); });
    child.once('exit', (code) => reject(new Error(`hold-child exited with ${code}`)));
  });
  return { name, close: async () => { child.stdin.end(); await exited; } };
}

test('callers: root, a read-group member and others; entries go with their connections', async () => {
  const bus = await startSystemLikeBus(suite, []);
  const agentBus = await connectBus('system', bus.env);
  suite.after(() => agentBus.disconnect());
  const callers = new Callers(agentBus, NOBODY, 4242);
  await callers.start();
  suite.after(() => callers.stop());
  const others = new Callers(agentBus, undefined, 4242);

  const rootBus = await connectBus('system', bus.env);
  assert.deepEqual(await callers.of((rootBus as unknown as { name: string }).name), { uid: 0, mayChange: true, readsSecrets: true });
  const nobody = await nobodyConnection(bus.env);
  assert.deepEqual(await callers.of(nobody.name), { uid: NOBODY, mayChange: false, readsSecrets: true }, 'in the read group');
  assert.deepEqual(await others.of(nobody.name), { uid: NOBODY, mayChange: false, readsSecrets: false }, 'without a read group');
  assert.deepEqual(await callers.of(':1.999999'), { uid: undefined, mayChange: false, readsSecrets: false });

  assert.equal(callers.size, 2);
  rootBus.disconnect();
  await nobody.close();
  await eventually(async () => callers.size, (n) => n === 0, 'the entries of closed connections to go');
});

test('resolveGroup takes a gid or a name of the group file', async () => {
  const dir = await tmpdir(suite);
  const file = join(dir, 'group');
  await writeFile(file, 'root:x:0:\nhost-agent-readers:x:1234:alice,bob\n');
  assert.equal(await resolveGroup('77', file), 77);
  assert.equal(await resolveGroup('host-agent-readers', file), 1234);
  await assert.rejects(resolveGroup('nope', file), /no such group/);
});
