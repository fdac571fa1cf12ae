/**
 * Images in use, with agentd (a unit of a sandbox systemd) and real signed busybox ACIs:
 * `agentctl image rm` refuses an image a container holds (a running declared container,
 * a one-off run), naming the containers, and the container's /bin keeps working; gc keeps
 * what is in use and removes the rest; an unused image is removed. A newer import under
 * the same name and version moves no container, not even across an agent restart (same
 * MainPID, same image ID); a change of the declaration does. `agentctl rm` of a finished
 * one-off run works at once. Without agentd, agentctl still refuses and keeps what an
 * installed unit runs.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { AgentStatus, ImageSummary } from '../../../agent/api/agent1.js';
import { agentctl } from '../../lib/agent.js';
import { AGENT_UNIT, IMAGE, makeAgentWorld, type AgentWorld } from './world.js';

let w: AgentWorld;
const cleanups: Array<() => unknown> = [];
const TOOLS = `${IMAGE}-tools`;

function cloudConfig(env = ''): string {
  return `#cloud-config
host-agent:
  containers:
    - name: web
      image: ${IMAGE}:1.0.0
      exec: [/bin/sh, -c, "exec sleep 600"]${env}
`;
}

const ctl = (args: string[]) => agentctl(args, { env: w.sbx.env });
const unitPid = async (name: string): Promise<number> => (await w.systemd.unitStatus(`container-${name}.service`)).mainPid;
const images = async (): Promise<ImageSummary[]> => JSON.parse((await ctl(['image', 'list', '--json'])).stdout) as ImageSummary[];

before(async () => {
  w = await makeAgentWorld({ after: (fn) => cleanups.push(fn) }, () => cloudConfig());
});

after(async () => {
  for (const fn of cleanups.reverse()) await fn();
});

test('image rm of the image a running container uses is refused, naming it; its /bin still works', async (t) => {
  const web = await w.eventually(() => w.container('web'), (c) => c?.state === 'running', 'web to run');
  const id = web!.imageId!;
  for (const ref of [id, `${IMAGE}:1.0.0`]) {
    const started = Date.now();
    const r = await ctl(['image', 'rm', ref]);
    t.diagnostic(`agentctl image rm ${ref.slice(0, 19)}: refused in ${Date.now() - started} ms`);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, /image example\.com\/busybox sha512-\w+ is in use by container web \(declared, unit running\)\. Remove or change those containers first/);
  }
  assert.ok((await images()).some((i) => i.id === id));
  const r = await ctl(['enter', 'web', '--', '/bin/sh', '-c', 'echo still here']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'still here\n');
});

test('a one-off run holds its image; gc keeps images in use; an unused image is removed', async () => {
  const tools = await w.importImage({ version: '1.0.0' }, [], TOOLS);
  let r = await ctl(['run', '--detach', '--name', 'held', `${TOOLS}:1.0.0`, '--', '/bin/sh', '-c', 'exec sleep 600']);
  assert.equal(r.code, 0, r.stderr);
  r = await ctl(['image', 'rm', tools]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /in use by container held \(one-off run (running|starting)\)/);
  r = await ctl(['image', 'gc', '--grace', '0']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^nothing to remove/);
  assert.deepEqual((await images()).map((i) => i.name).sort(), [IMAGE, TOOLS]);

  r = await ctl(['rm', 'held']);
  assert.equal(r.code, 0, r.stderr);
  r = await ctl(['image', 'gc', '--grace', '0']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^removed ${tools} \\(${TOOLS}\\)\\n$`));
  assert.deepEqual((await images()).map((i) => i.name), [IMAGE], 'web\'s image is kept');

  const again = await w.importImage({ version: '1.0.0' }, [], TOOLS);
  r = await ctl(['image', 'rm', again]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^removed sha512-/);
});

test('a newer import of the same name and version moves no container, even across an agent restart; a declaration change does', async () => {
  const web = await w.eventually(() => w.container('web'), (c) => c?.state === 'running', 'web to run');
  const first = web!.imageId!;
  const pid = await unitPid('web');
  const second = await w.importImage({ version: '1.0.0' }, [{ name: 'rootfs/etc/build', content: 'second\n' }]);
  assert.notEqual(second, first);

  const agent = (await w.systemd.unitStatus(AGENT_UNIT)).mainPid;
  await w.systemd.restart(AGENT_UNIT);
  await w.eventually(async () => JSON.parse((await ctl(['status', '--json'])).stdout) as AgentStatus,
    (s) => s.pid !== agent && s.config.lastApply !== undefined && s.containers?.find((c) => c.name === 'web')?.state === 'running', 'the restarted agent to settle');
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(await unitPid('web'), pid, 'adopted, not restarted');
  assert.equal((await w.container('web'))!.imageId, first, 'the container stays on the image it was started from');
  assert.match(await readFile(join(w.sbx.unitDir, 'container-web.service'), 'utf8'), new RegExp(`^X-HostAgent-Image=${first}$`, 'm'));

  await w.writeConfig(cloudConfig('\n      environment: {EDITED: "yes"}'));
  // The new unit names the image at once; the restart (its network torn down and set up
  // again) follows: wait for the new process.
  const moved = await w.eventually(() => w.container('web'), (c) => c?.imageId === second && c.state === 'running' && c.mainPid !== pid, 'web to restart on the newer import', 60_000);
  assert.notEqual(moved!.mainPid, pid);
  const r = await ctl(['image', 'rm', first]);
  assert.equal(r.code, 0, r.stderr);
  await assert.rejects(stat(join(w.stateDir, 'images', first)));
});

test('agentctl rm of a finished one-off run works without restarting agentd', async () => {
  const agent = (await w.systemd.unitStatus(AGENT_UNIT)).mainPid;
  let r = await ctl(['run', '--name', 'done', `${IMAGE}:1.0.0`, '--', '/bin/sh', '-c', 'echo finished']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'finished\n');
  assert.ok((await stat(join(w.stateDir, 'containers/done'))).isDirectory());
  r = await ctl(['rm', 'done']);
  assert.equal(r.code, 0, r.stderr);
  await assert.rejects(stat(join(w.stateDir, 'containers/done')));
  assert.equal(await w.container('done'), undefined);
  assert.equal((await w.systemd.unitStatus(AGENT_UNIT)).mainPid, agent, 'the same agentd');
});

test('without agentd (agentctl on the store directly), rm still refuses and gc still keeps what an installed unit runs', async () => {
  const id = (await w.container('web'))!.imageId!;
  await w.systemd.stop(AGENT_UNIT);
  let r = await ctl(['image', 'rm', id, '--state-dir', w.stateDir]);
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stderr, /is in use by container web \(unit installed\)/);
  r = await ctl(['image', 'gc', '--grace', '0', '--state-dir', w.stateDir]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^nothing to remove/);
  assert.ok((await stat(join(w.stateDir, 'images', id, 'rootfs/bin/busybox'))).isFile());
});
