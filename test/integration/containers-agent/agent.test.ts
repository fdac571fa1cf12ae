/**
 * Containers declared in cloud-config, run by agentd (a unit of a sandbox systemd) from a
 * real signed busybox ACI: they run and answer; they survive `kill -9` of agentd and are
 * adopted by the restarted agent (same MainPID); an edit restarts only what changed; a
 * removed container is stopped; a failing payload shows `failed`, its exit status and its
 * last output; each bad declaration is an error for that container only (a broken edit
 * of a running one leaves it running as it was); exec arguments stay arguments; the verbs
 * (start, stop, restart, logs, enter, rm, run) work.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { AgentStatus } from '../../../agent/api/agent1.js';
import { agentctl } from '../../lib/agent.js';
import { AGENT_UNIT, IMAGE, makeAgentWorld, type AgentWorld } from './world.js';

let w: AgentWorld;
const cleanups: Array<() => unknown> = [];

interface Options {
  webMemory?: string;
  withWeb?: boolean;
  bad?: boolean;
}

function cloudConfig(scratch: string, o: Options = {}): string {
  const web = o.withWeb === false ? '' : `
    - name: web
      image: ${IMAGE}:1.0.0
      exec: [/bin/sh, -c, "echo answer-$FROM > /data/out; echo started >> /data/log; exec sleep 600"]
      environment: {FROM: web}
      volumes: [{host: ${scratch}/web, path: /data}]
      memory: ${o.webMemory ?? '64M'}
      restart: always`;
  const bad = o.bad === false ? '' : `
    - name: broken
      image: ${IMAGE}
      exec: [/bin/sh, -c, "echo first line; echo boom >&2; exit 3"]
    - name: newline
      image: ${IMAGE}
      exec: [/bin/sh, -c, "echo a\\necho b"]
    - name: dotdot
      image: ${IMAGE}
      volumes: [{host: ${scratch}/web, path: /data/../etc}]
    - name: missing-volume
      image: ${IMAGE}
      volumes: [{host: ${scratch}/does-not-exist, path: /data}]
    - name: unfetchable
      image: localhost/nothing:1.0.0
    - name: Bad_Name
      image: ${IMAGE}
    - name: relative-volume
      image: ${IMAGE}
      volumes: [{host: web, path: /data}]
    - name: relative-exec
      image: ${IMAGE}
      exec: [bin/sh, -c, "exec sleep 600"]
    - name: twice
      image: ${IMAGE}
    - name: twice
      image: ${IMAGE}
    - name: quoted
      image: ${IMAGE}
      exec: [/bin/sh, -c, 'for a in "$@"; do echo "[$a]"; done > /data/quoted-args; exec sleep 600', sh, "a'b\\"c", "; touch /data/pwned", --bind=/:/host, "$(id)"]
      volumes: [{host: ${scratch}, path: /data}]`;
  return `#cloud-config
host-agent:
  containers:${web}
    - name: other
      image: ${IMAGE}
      exec: [/bin/sh, -c, "exec sleep 600"]${bad}
`;
}

const unitPid = async (name: string): Promise<number> => (await w.systemd.unitStatus(`container-${name}.service`)).mainPid;

before(async () => {
  w = await makeAgentWorld({ after: (fn) => cleanups.push(fn) }, ({ scratch }) => cloudConfig(scratch));
  await import('node:fs/promises').then((fs) => fs.mkdir(join(w.scratch, 'web'), { recursive: true }));
});

after(async () => {
  for (const fn of cleanups.reverse()) await fn();
});

test('a declared container runs from the signed image and answers', async () => {
  const web = await w.eventually(() => w.container('web'), (c) => c?.state === 'running', 'web to run');
  assert.equal(web!.image, `${IMAGE}:1.0.0`);
  assert.equal(web!.version, '1.0.0');
  assert.match(web!.imageId!, /^sha512-/);
  assert.ok(web!.mainPid > 0);
  const out = await w.eventually(() => readFile(join(w.scratch, 'web/out'), 'utf8'), (t) => t !== '', 'the payload to write');
  assert.equal(out, 'answer-web\n');
  const ps = await agentctl(['ps'], { env: w.sbx.env });
  assert.equal(ps.code, 0, ps.stderr);
  assert.match(ps.stdout, /^NAME +IMAGE +VERSION +STATE +PID +UPTIME +RESTARTS +NETWORK +PORTS$/m);
  assert.match(ps.stdout, new RegExp(`^web +${IMAGE}:1\\.0\\.0 +1\\.0\\.0 +running +${web!.mainPid} `, 'm'));
});

test('a failing payload shows failed, its exit status and its last output in ps and status', async () => {
  const broken = await w.eventually(() => w.container('broken'), (c) => c?.state === 'failed', 'broken to fail');
  assert.equal(broken!.exitStatus, 3);
  assert.deepEqual(broken!.lastOutput, ['first line', 'boom']);
  const ps = await agentctl(['ps'], { env: w.sbx.env });
  assert.match(ps.stdout, /^broken +\S+ +1\.0\.0 +failed \(exit 3\)/m);
  assert.match(ps.stdout, /^broken: exited with status 3; last output:\n {2}first line\n {2}boom$/m);
  const status = JSON.parse((await agentctl(['status', '--json'], { env: w.sbx.env })).stdout) as AgentStatus;
  const inStatus = status.containers!.find((c) => c.name === 'broken')!;
  assert.equal(inStatus.state, 'failed');
  assert.equal(inStatus.exitStatus, 3);
});

const BAD = ['newline', 'dotdot', 'missing-volume', 'unfetchable', 'Bad_Name', 'relative-volume', 'relative-exec', 'twice'];

test('each bad declaration is an error for that container only; the others run', async () => {
  const list = await w.eventually(w.containers, (l) => BAD.every((n) => l.find((c) => c.name === n)?.state === 'error'), 'the errors');
  const err = (name: string) => list.find((c) => c.name === name)!.error!;
  assert.equal(err('newline').code, 'container.invalid-spec');
  assert.match(err('newline').message, /exec\[2\]/);
  assert.equal(err('dotdot').code, 'container.invalid-spec');
  assert.match(err('dotdot').message, /volumes\[0\]\.path/);
  assert.equal(err('missing-volume').code, 'container.invalid-spec');
  assert.match(err('missing-volume').message, /does-not-exist does not exist on this host/);
  assert.equal(err('unfetchable').code, 'container.image-unavailable');
  assert.match(err('unfetchable').message, /localhost\/nothing:1\.0\.0 is not in the store and cannot be fetched/);
  // Rejected by the configuration's checks, with file and line; the rest of the file applies.
  const at = (line: number): string => `${w.configFile}: line ${line}: error: `;
  for (const [name, pattern] of [
    ['Bad_Name', /invalid container name "Bad_Name"/],
    ['relative-volume', /invalid volume host path "web": it must be an absolute path/],
    ['relative-exec', /the exec of container "relative-exec" must begin with an absolute path/],
    ['twice', /container "twice" is declared twice in this file \(also at line \d+\)/],
  ] as const) {
    assert.equal(err(name).code, 'container.invalid-declaration', name);
    assert.ok(err(name).message.startsWith(at(Number(/line (\d+)/.exec(err(name).message)![1]))), err(name).message);
    assert.match(err(name).message, pattern);
  }
  for (const name of BAD) {
    assert.equal((await w.systemd.unitStatus(`container-${name}.service`)).loadState, 'not-found', `${name} has no unit`);
  }
  assert.equal(list.find((c) => c.name === 'web')!.state, 'running');
  assert.equal(list.find((c) => c.name === 'other')!.state, 'running');
  const ps = await agentctl(['ps'], { env: w.sbx.env });
  assert.match(ps.stdout, /^unfetchable: container\.image-unavailable: /m);
  assert.match(ps.stdout, /^twice: container\.invalid-declaration: .*declared twice/m);
  const status = JSON.parse((await agentctl(['status', '--json'], { env: w.sbx.env })).stdout) as AgentStatus;
  assert.equal(status.config.state, 'ok');
  assert.ok(status.config.entries.some((e) => e.level === 'error' && /Bad_Name/.test(e.message)), 'the config lists the errors');
});

test('quotes, ";" and option-like words in exec reach the payload as plain arguments', async () => {
  const args = await w.eventually(() => readFile(join(w.scratch, 'quoted-args'), 'utf8').catch(() => ''), (t) => t !== '', 'the payload to write its arguments');
  assert.equal(args, `[a'b"c]\n[; touch /data/pwned]\n[--bind=/:/host]\n[$(id)]\n`);
  await assert.rejects(stat(join(w.scratch, 'pwned')));
});

test('kill -9 of agentd leaves containers running; the restarted agent adopts them (same MainPID)', async () => {
  const before = { web: await unitPid('web'), other: await unitPid('other') };
  const agent = await w.systemd.unitStatus(AGENT_UNIT);
  process.kill(agent.mainPid, 'SIGKILL');
  await w.eventually(async () => (await w.systemd.unitStatus(AGENT_UNIT)).mainPid, (pid) => pid > 0 && pid !== agent.mainPid, 'agentd to be restarted by systemd');
  assert.equal((await w.systemd.unitStatus('container-web.service')).activeState, 'active');
  assert.equal(await unitPid('web'), before.web, 'the container outlived the agent');
  const s = await w.eventually(async () => JSON.parse((await agentctl(['status', '--json'], { env: w.sbx.env })).stdout) as AgentStatus,
    (x) => x.config.lastApply !== undefined && x.containers?.find((c) => c.name === 'web')?.state === 'running', 'the restarted agent to settle');
  assert.equal(s.containers!.find((c) => c.name === 'web')!.mainPid, before.web);
  await new Promise((r) => setTimeout(r, 1000));
  assert.deepEqual({ web: await unitPid('web'), other: await unitPid('other') }, before, 'adopted, not restarted');
  assert.equal((await readFile(join(w.scratch, 'web/log'), 'utf8')).split('\n').filter(Boolean).length, 1, 'the payload started once');
});

test('changing the memory limit restarts only that container', async () => {
  const before = { web: await unitPid('web'), other: await unitPid('other') };
  await w.writeConfig(cloudConfig(w.scratch, { webMemory: '96M' }));
  await w.eventually(() => unitPid('web'), (pid) => pid > 0 && pid !== before.web, 'web to restart');
  const text = await readFile(join(w.sbx.unitDir, 'container-web.service'), 'utf8');
  assert.match(text, /^MemoryMax=100663296$/m);
  assert.equal(await unitPid('other'), before.other, 'other kept running untouched');
});

test('stop, start, restart, logs and enter', async () => {
  const env = w.sbx.env;
  let r = await agentctl(['stop', 'other'], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await w.container('other'))!.state, 'stopped');
  r = await agentctl(['start', 'other'], { env });
  assert.equal(r.code, 0, r.stderr);
  const pid = await unitPid('other');
  assert.ok(pid > 0);
  r = await agentctl(['restart', 'other'], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.notEqual(await unitPid('other'), pid);
  r = await agentctl(['logs', 'broken'], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /first line\nboom\n/);
  // Without a journal: no timestamps to go by, said in one line.
  r = await agentctl(['logs', 'broken', '--since=-1h'], { env });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^agentctl: broken: --since needs the journal\. This agent writes the output to \S+, without timestamps/);
  // Completion asks the agent for the names.
  r = await agentctl(['__complete', '--', 'logs', 'bro'], { env });
  assert.equal(r.stdout, 'broken\n');
  r = await agentctl(['enter', 'web', '--', '/bin/sh', '-c', 'cat /data/out; echo pid=$$; id -u'], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^answer-web\npid=\d+\n0\n$/);
  r = await agentctl(['start', 'nope'], { env });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /no such container/);
});

test('run: a one-off container as a transient unit, attached to its output, with its exit status', async () => {
  const env = w.sbx.env;
  const r = await agentctl(['run', `${IMAGE}:1.0.0`, '--name', 'once', '--', '/bin/sh', '-c', 'echo hello from a run; exit 7'], { env });
  assert.match(r.stdout, /hello from a run/);
  assert.equal(r.code, 7, r.stderr);
  const once = await w.container('once');
  assert.equal(once?.kind, 'run');
  assert.equal(once?.state, 'failed');
  const ok = await agentctl(['run', `${IMAGE}:1.0.0`, '--', '/bin/sh', '-c', 'echo fine'], { env });
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout, 'fine\n');
  const rm = await agentctl(['rm', 'once'], { env });
  assert.equal(rm.code, 0, rm.stderr);
  assert.equal(await w.container('once'), undefined);
});

test('a container removed from the config is stopped and its unit removed; rm removes its layer', async () => {
  const layer = join(w.stateDir, 'containers/web');
  await w.writeConfig(cloudConfig(w.scratch, { withWeb: false }));
  await w.eventually(() => w.systemd.unitStatus('container-web.service'), (u) => u.activeState === 'inactive' && u.loadState === 'not-found', 'web stopped and gone');
  const web = await w.eventually(() => w.container('web'), (c) => c?.state === 'removed', 'web listed as removed');
  assert.equal(web!.mainPid, 0);
  assert.ok((await stat(layer)).isDirectory(), 'the writable layer is kept');
  assert.ok((await unitPid('other')) > 0, 'other still runs');
  const refused = await agentctl(['rm', 'other'], { env: w.sbx.env });
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /declared in the configuration/);
  const rm = await agentctl(['rm', 'web'], { env: w.sbx.env });
  assert.equal(rm.code, 0, rm.stderr);
  await assert.rejects(stat(layer));
  assert.equal(await w.container('web'), undefined);
});

test('an edit that breaks a running container leaves it running as it was; an error elsewhere refuses the whole edit', async () => {
  const other = await unitPid('other');
  const broken = cloudConfig(w.scratch, { withWeb: false }).replace('exec: [/bin/sh, -c, "exec sleep 600"]', 'exec: [/bin/sh, -c, "exec sleep 600"]\n      memory: lots');
  await w.writeConfig(broken);
  const rejected = await w.eventually(() => w.container('other'), (c) => c?.error?.code === 'container.invalid-declaration', 'other to be rejected');
  assert.match(rejected!.error!.message, /invalid memory size "lots"/);
  assert.equal(rejected!.state, 'running', 'its last good unit runs on');
  assert.equal(await unitPid('other'), other);

  await w.writeConfig(broken.replace('#cloud-config\n', '#cloud-config\nhostname: "bad name"\n'));
  const s = await w.eventually(async () => JSON.parse((await agentctl(['status', '--json'], { env: w.sbx.env })).stdout) as AgentStatus,
    (x) => x.config.state === 'invalid', 'the config to be refused');
  assert.ok(s.config.entries.some((e) => e.level === 'error' && /invalid hostname "bad name"/.test(e.message)), 'the hostname error is listed');
  assert.equal(await unitPid('other'), other);
});
