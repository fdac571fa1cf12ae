/**
 * agentd starts on a state directory whose every file is damaged: each file is moved aside
 * to `<name>.corrupt-<time>` with a warning in agentd's log naming it, the image index is
 * rebuilt, an image whose record is lost is set aside, the records that can be kept are
 * written back, the configuration applies (and a good last-good copy is saved again), and
 * later operations work: trust, fetch by URL (the memo), image list. agentd runs as a unit
 * of a real (sandboxed) systemd, fetches from a real HTTPS server with real signatures.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AgentStatus } from '../../../agent/api/agent1.js';
import { SystemdManager } from '../../../agent/host/systemd/manager.js';
import { startSandbox, type Sandbox } from '../../lib/sandbox.js';
import { agentctl, agentdUnit, waitForAgent } from '../../lib/agent.js';
import { eventually } from '../../lib/eventually.js';
import { makeImagesWorld, NAME, type ImagesWorld } from '../images-cli/setup.js';

let sbx: Sandbox;
let systemd: SystemdManager;
let world: ImagesWorld;
let state: string;
let logFile: string;
let env: NodeJS.ProcessEnv;
const cleanups: Array<() => unknown> = [];
const suite = { after: (fn: () => unknown) => cleanups.push(fn) };
const FAKE_ID = `sha512-${'c'.repeat(128)}`;

/** Each damaged file: its path under the state dir, its content. */
const DAMAGED: Record<string, string> = {
  'images/index.json': '{"images":[null]}',
  'images/fetched.json': 'null',
  'images/.lock': 'garbage',
  [`images/${FAKE_ID}/meta.json`]: '{"id": 7',
  'config/last-good.json': '{"format":1,"sources":"x"}',
  'image-updates.json': '{"containers":{"web":null,"db":{"declared":3}}}',
  'reboot/lock-held.json': '\u0000\u0000',
};

before(async () => {
  world = await makeImagesWorld(suite);
  sbx = await startSandbox({ after: (fn) => cleanups.push(fn) });
  systemd = await SystemdManager.connect('session', sbx.env);
  state = join(sbx.dir, 'state');
  for (const [path, text] of Object.entries(DAMAGED)) {
    await mkdir(join(state, path, '..'), { recursive: true });
    await writeFile(join(state, path), text);
  }
  await writeFile(join(state, 'images', FAKE_ID, 'manifest'), '{}');
  const config = join(sbx.dir, 'cloud-config.yaml');
  await writeFile(config, '#cloud-config\ncoreos:\n  units:\n    - name: idle.service\n      command: start\n      content: |\n        [Service]\n        ExecStart=/bin/sleep 600\n');
  logFile = join(sbx.dir, 'agentd.log');
  // agentctl trust works on the key directory itself: the agent's, never the host's.
  env = { ...sbx.env, NODE_EXTRA_CA_CERTS: world.env.NODE_EXTRA_CA_CERTS, HOST_AGENT_TRUST_DIR: join(sbx.dir, 'trust'),
    HOST_AGENT_SYSTEM_TRUST_DIR: join(sbx.dir, 'system-trust'), HOST_AGENT_STATE_DIR: state };
  await writeFile(join(sbx.unitDir, 'host-agent.service'), `${agentdUnit([
    `--config ${config}`, `--config-dir ${sbx.dir}/none.d`, `--system-config-dir ${sbx.dir}/none.d`, `--state-dir ${state}`,
    `--host-root ${sbx.dir}/root`, `--trust-dir ${sbx.dir}/trust`, `--system-trust-dir ${sbx.dir}/system-trust`,
  ])}Environment=NODE_EXTRA_CA_CERTS=${world.env.NODE_EXTRA_CA_CERTS}\nStandardOutput=append:${logFile}\nStandardError=append:${logFile}\n`);
  await systemd.daemonReload();
  await systemd.start('host-agent.service');
  await waitForAgent(sbx.env, 60_000);
});

after(async () => {
  await systemd?.stop('host-agent.service').catch(() => undefined);
  systemd?.close();
  for (const fn of cleanups.reverse()) await fn();
});

async function status(): Promise<AgentStatus> {
  const r = await agentctl(['status', '--json'], { env });
  assert.ok(r.code === 0 || r.code === 1, r.stderr); // 1: degraded
  return JSON.parse(r.stdout) as AgentStatus;
}

test('agentd starts, and applies its configuration', async () => {
  const s = await eventually(status, (v) => v.config.lastApply !== undefined, 'the configuration applied', 30_000);
  assert.equal(s.state, 'running');
  assert.equal(s.config.lastApply!.error, undefined);
  assert.deepEqual(s.config.lastApply!.steps.filter((x) => x.error), []);
});

test('every damaged file is moved aside, with a warning naming it', async () => {
  const log = await readFile(logFile, 'utf8');
  for (const path of Object.keys(DAMAGED)) {
    if (path === 'images/fetched.json') continue; // a cache read at the first fetch: see below
    const full = join(state, path);
    if (path.endsWith('/meta.json')) {
      // The image whose record is lost is set aside whole: it cannot show its signer.
      assert.ok((await readdir(join(state, 'images'))).some((n) => n.startsWith(`${FAKE_ID}.corrupt-`)));
      assert.ok(log.includes(`${full}: the record of image ${FAKE_ID} is damaged`), log);
      continue;
    }
    assert.ok(log.includes(`${full}: `), `a warning names ${full}:\n${log}`);
    if (path === 'images/.lock') continue; // a lock file names its owner only: taken over
    const dir = join(full, '..');
    const name = path.split('/').at(-1)!;
    const asides = (await readdir(dir)).filter((n) => n.startsWith(`${name}.corrupt-`));
    assert.equal(asides.length, 1, `${path} moved aside`);
    assert.equal(await readFile(join(dir, asides[0]!), 'utf8'), DAMAGED[path], 'the evidence is kept');
  }
});

test('the index is rebuilt, the records that can be kept are written back, last-good is saved again', async () => {
  // No image is left: no index (a missing index is an empty one).
  assert.deepEqual((await readdir(join(state, 'images'))).filter((n) => n === 'index.json'), []);
  assert.deepEqual(JSON.parse(await readFile(join(state, 'image-updates.json'), 'utf8')), { containers: {} });
  const saved = await eventually(async () => JSON.parse(await readFile(join(state, 'config/last-good.json'), 'utf8')) as { sources: Array<{ text: string }> },
    (v) => /idle\.service/.test(v.sources[0]?.text ?? ''), 'the last good configuration saved again');
  assert.equal(saved.sources.length, 1);
  assert.match(await readlink(join(state, 'images/.lock')), /^\d+ \d+$/);
});

test('later operations work: trust, fetch by URL twice (the memo), image list', async () => {
  let r = await agentctl(['trust', '--prefix', NAME, world.appKeyFile], { env });
  assert.equal(r.code, 0, r.stderr);
  const url = `https://localhost:${world.server.port}/app.aci`;
  r = await agentctl(['fetch', url], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.match(await readFile(logFile, 'utf8'), new RegExp(`${join(state, 'images/fetched.json')}: the memo of verified downloads \\(a cache\\) is damaged`));
  const asides = (await readdir(join(state, 'images'))).filter((n) => n.startsWith('fetched.json.corrupt-'));
  assert.equal(asides.length, 1);
  const id = r.stdout.trim();
  const downloads = world.server.requests.filter((p) => p === '/app.aci').length;
  r = await agentctl(['fetch', url], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), id);
  assert.equal(world.server.requests.filter((p) => p === '/app.aci').length, downloads, 'the second fetch came from the memo');
  const memo = JSON.parse(await readFile(join(state, 'images/fetched.json'), 'utf8')) as { fetched: Array<{ id: string }> };
  assert.deepEqual(memo.fetched.map((e) => e.id), [id]);
  r = await agentctl(['image', 'list', '--json'], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual((JSON.parse(r.stdout) as Array<{ id: string }>).map((i) => i.id), [id]);
});
