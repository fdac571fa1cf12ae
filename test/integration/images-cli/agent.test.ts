/**
 * agentctl's image verbs through a running agent on a bus configured like the system bus
 * (with units/org.hostagent.Agent1.conf): agentctl prefers the agent, unprivileged users
 * may list and read but the policy refuses them FetchImage, and a fetch reports
 * progress through FetchProgress signals.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  AGENT_BUS_NAME, AGENT_INTERFACE, AGENT_OBJECT_PATH, type FetchProgressEvent, type FetchResult, type ImageDetail, type ImageRecord, type ImageSummary,
} from '../../../agent/api/agent1.js';
import { callMethod } from '../../../agent/host/bus/lean-client.js';
import { agentctl, waitForAgent } from '../../lib/agent.js';
import { REPO } from '../../lib/repo.js';
import { startSystemLikeBus } from '../../lib/system-bus.js';
import { tmpdir } from '../../lib/tmpdir.js';
import { makeImagesWorld, NAME, type ImagesWorld } from './setup.js';

const NOBODY = 65534;
let world: ImagesWorld;
let env: NodeJS.ProcessEnv;
/** What an unprivileged user runs with (no access to the test's CA file). */
let nobodyEnv: NodeJS.ProcessEnv;
let agentState: string;
let clientState: string;
let trustDir: string;
const cleanups: Array<() => unknown> = [];
const suite = { after: (fn: () => unknown) => cleanups.push(fn) };

before(async () => {
  world = await makeImagesWorld(suite);
  const bus = await startSystemLikeBus(suite, [join(REPO, 'units/org.hostagent.Agent1.conf')]);
  const dir = await tmpdir(suite, 'images-agent-');
  await chmod(dir, 0o755);
  agentState = join(dir, 'agent-state');
  clientState = join(dir, 'client-state');
  trustDir = join(dir, 'trust');
  env = { ...world.env, DBUS_SYSTEM_BUS_ADDRESS: bus.env.DBUS_SYSTEM_BUS_ADDRESS, HOST_AGENT_STATE_DIR: clientState, HOST_AGENT_TRUST_DIR: trustDir };
  const { NODE_EXTRA_CA_CERTS: _ca, ...plain } = env;
  nobodyEnv = plain;
  const agent = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'agentd-images.ts'), agentState, trustDir, join(dir, 'system-trust')], {
    cwd: REPO, env, stdio: ['ignore', 'inherit', 'inherit'],
  });
  suite.after(() => {
    if (agent.exitCode === null && agent.signalCode === null) agent.kill('SIGKILL');
  });
  await waitForAgent(env);
  const r = await agentctl(['trust', '--prefix', NAME, world.appKeyFile], { env });
  assert.equal(r.code, 0, r.stderr);
});

after(async () => {
  for (const fn of cleanups.reverse()) await fn();
});

test('agentctl fetch goes through the agent: the image lands in the agent\'s store', async () => {
  const r = await agentctl(['fetch', world.signed], { env });
  assert.equal(r.code, 0, r.stderr);
  const id = r.stdout.trim();
  assert.ok((await readdir(join(agentState, 'images'))).includes(id));
  await assert.rejects(readdir(clientState), 'agentctl did not open a store of its own');
});

test('a fetch reports its progress through FetchProgress signals', async () => {
  const events: FetchProgressEvent[] = [];
  const requestId = 'test-progress';
  const [json] = await callMethod({
    bus: 'system', env, destination: AGENT_BUS_NAME, path: AGENT_OBJECT_PATH, interface: AGENT_INTERFACE,
    member: 'FetchImage', signature: 's',
    body: [JSON.stringify({ image: `${world.server.url}/app.aci`, insecureOptions: [], requestId })],
    signals: {
      match: `type='signal',interface='${AGENT_INTERFACE}',member='FetchProgress'`,
      onSignal: (msg) => {
        if (msg.member === 'FetchProgress') events.push(JSON.parse(msg.body[0] as string) as FetchProgressEvent);
      },
    },
  });
  const result = JSON.parse(json as string) as FetchResult;
  assert.equal(result.image.name, NAME);
  assert.deepEqual([...new Set(events.map((e) => e.phase))], ['download', 'verify', 'extract']);
  assert.ok(events.every((e) => e.requestId === requestId));
  const lastDownload = events.filter((e) => e.phase === 'download').at(-1)!;
  assert.equal(lastDownload.done, lastDownload.total, 'the last event of a phase says it is complete');
});

test('an unprivileged user lists and reads images through the agent', async () => {
  let r = await agentctl(['image', 'list', '--json'], { env: nobodyEnv, uid: NOBODY, gid: NOBODY });
  assert.equal(r.code, 0, r.stderr);
  const images = JSON.parse(r.stdout) as ImageSummary[];
  assert.deepEqual(images.map((i) => i.name), [NAME]);
  r = await agentctl(['image', 'cat-manifest', NAME], { env: nobodyEnv, uid: NOBODY, gid: NOBODY });
  assert.equal(r.code, 0, r.stderr);
  assert.equal((JSON.parse(r.stdout) as { name: string }).name, NAME);
  r = await agentctl(['image', 'inspect', NAME], { env: nobodyEnv, uid: NOBODY, gid: NOBODY });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual((JSON.parse(r.stdout) as ImageRecord).format, 'appc');
});

test('the policy refuses FetchImage, RemoveImage and GcImages to an unprivileged user', async () => {
  for (const args of [['fetch', world.signed], ['image', 'rm', NAME], ['image', 'gc', '--grace', '0']]) {
    const r = await agentctl(args, { env: nobodyEnv, uid: NOBODY, gid: NOBODY });
    assert.equal(r.code, 1, args.join(' '));
    assert.match(r.stderr, /(FetchImage|RemoveImage|GcImages) was refused: Rejected send message/, 'refused by the bus, before the agent');
    assert.match(r.stderr, /^agentctl: access denied: run as root\. /);
  }
  const [json] = await callMethod({ bus: 'system', env, destination: AGENT_BUS_NAME, path: AGENT_OBJECT_PATH, interface: AGENT_INTERFACE, member: 'GetImage', signature: 's', body: [NAME] });
  assert.equal((JSON.parse(json as string) as ImageDetail).image.name, NAME, 'the image is still there');
});

test('errors of the agent reach agentctl as one line with the fix', async () => {
  let r = await agentctl(['fetch', world.strangerSigned], { env });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /not trusted for any image name.*agentctl trust --prefix NAME KEYFILE/);
  assert.equal(r.stderr.trim().split('\n').length, 1);
  r = await agentctl(['image', 'rm', 'localhost/nothing'], { env });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /no such image in the store/);
});

test('root removes and garbage-collects through the agent', async () => {
  let r = await agentctl(['image', 'rm', NAME], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^removed sha512-/);
  r = await agentctl(['fetch', world.signed], { env });
  assert.equal(r.code, 0, r.stderr);
  r = await agentctl(['image', 'gc', '--grace', '0'], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^removed sha512-.* \(localhost\/app\)$/m);
  r = await agentctl(['image', 'list', '--json'], { env });
  assert.deepEqual(JSON.parse(r.stdout), []);
});
