/**
 * A configuration applied by agentd (a unit of a real sandboxed systemd) onto a full disk:
 * the host root and the state directory on a small tmpfs the test mounts and fills. The
 * apply is all or nothing: no file changes (not even the unit file, on another file system),
 * no unit restarts, no temp file is left; the status and `agentctl config apply` say
 * `disk.full` with the file and the free space; the last good configuration is not replaced.
 * agentd restarts on the full disk; once space is freed the configuration applies.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AgentStatus } from '../../../agent/api/agent1.js';
import { SystemdManager } from '../../../agent/host/systemd/manager.js';
import { startSandbox, type Sandbox } from '../../lib/sandbox.js';
import { agentctl, agentdUnit } from '../../lib/agent.js';
import { eventually } from '../../lib/eventually.js';
import { fill, smallFs } from '../../lib/small-fs.js';

let sbx: Sandbox;
let systemd: SystemdManager;
let full: string;
let root: string;
let state: string;
let configFile: string;
const cleanups: Array<() => unknown> = [];
const t0 = { after: (fn: () => unknown) => cleanups.push(fn) };

function cloudConfig(version: string, content: string): string {
  return `#cloud-config
write_files:
  - path: /etc/app/settings.conf
    content: ${JSON.stringify(content)}
coreos:
  units:
    - name: alpha.service
      command: start
      content: |
        [Unit]
        Description=alpha ${version}
        [Service]
        ExecStart=/bin/sleep 600
`;
}

async function writeConfig(text: string): Promise<void> {
  await writeFile(`${configFile}.new`, text);
  await rename(`${configFile}.new`, configFile);
}

async function status(): Promise<AgentStatus> {
  const r = await agentctl(['status', '--json'], { env: sbx.env });
  assert.ok(r.code === 0 || r.code === 1, r.stderr); // 1: degraded (a failed apply counts)
  return JSON.parse(r.stdout) as AgentStatus;
}

const settings = (): string => join(root, 'etc/app/settings.conf');
const lastGood = (): string => join(state, 'config/last-good.json');
const pidOf = async (name: string): Promise<number> => (await systemd.unitStatus(name)).mainPid;

before(async () => {
  // Mounted before the sandbox: its manager runs in a private mount namespace copied at start.
  full = await smallFs(t0, '256k');
  sbx = await startSandbox(t0);
  systemd = await SystemdManager.connect('session', sbx.env);
  root = join(full, 'root');
  state = join(full, 'state');
  await mkdir(join(root, 'etc'), { recursive: true });
  configFile = join(sbx.dir, 'cloud-config.yaml');
  await writeConfig(cloudConfig('one', 'mode=one\n'));
  await writeFile(join(sbx.unitDir, 'host-agent.service'), agentdUnit([
    `--config ${configFile}`, `--config-dir ${sbx.dir}/config.d`, `--system-config-dir ${sbx.dir}/lib-config.d`,
    `--state-dir ${state}`, `--host-root ${root}`,
  ]));
  await systemd.daemonReload();
  await systemd.start('host-agent.service');
});

after(async () => {
  await systemd?.stop('host-agent.service').catch(() => undefined);
  await systemd?.stop('alpha.service').catch(() => undefined);
  systemd?.close();
  // The sandbox goes first (agentd holds files on the tmpfs), then the tmpfs.
  for (const fn of cleanups.reverse()) await fn();
});

test('the first configuration applies and is saved as the last good one', async () => {
  const s = await eventually(status, (x) => x.config.lastApply !== undefined, 'the first apply');
  assert.deepEqual(s.config.lastApply!.steps.filter((x) => x.error), []);
  assert.equal(await readFile(settings(), 'utf8'), 'mode=one\n');
  await eventually(() => readFile(lastGood(), 'utf8'), (t) => t.includes('mode=one'), 'the last good configuration');
});

test('on a full disk an apply changes nothing, says disk.full with the file and the free space, and keeps the last good', async () => {
  const unitFile = join(sbx.unitDir, 'alpha.service');
  const unitBefore = await readFile(unitFile, 'utf8');
  const savedBefore = await readFile(lastGood(), 'utf8');
  const alpha = await pidOf('alpha.service');
  await fill(full);

  await writeConfig(cloudConfig('two', `mode=two\n${'#'.repeat(64 * 1024)}\n`));
  const r = await agentctl(['config', 'apply'], { env: sbx.env });
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stdout, new RegExp(`^FAILED: nothing was applied: ${settings()}: no space left on the file system \\(\\d+ bytes free of 256\\.0 KiB\\)\\. Free space on the file system of ${join(root, 'etc/app')}`));

  const s = await status();
  assert.equal(s.config.lastApply?.error?.code, 'disk.full');
  assert.match(s.config.lastApply!.error!.message, new RegExp(`^${settings()}: no space left .* free of 256\\.0 KiB`));
  assert.deepEqual(s.config.lastApply!.steps, []);
  const human = await agentctl(['status'], { env: sbx.env });
  assert.match(human.stdout, /last apply failed, nothing changed.*no space left on the file system/);

  assert.equal(await readFile(settings(), 'utf8'), 'mode=one\n', 'the old file is intact');
  assert.equal(await readFile(unitFile, 'utf8'), unitBefore, 'the unit file on the other file system is not changed either');
  assert.equal(await pidOf('alpha.service'), alpha, 'nothing restarted');
  assert.equal(await readFile(lastGood(), 'utf8'), savedBefore, 'the last good configuration is not replaced');
  for (const dir of [join(root, 'etc/app'), sbx.unitDir]) {
    assert.deepEqual((await readdir(dir)).filter((n) => n.startsWith('.tmp-')), [], `no temp left in ${dir}`);
  }
});

test('agentd restarts on the full disk and tells the same', async () => {
  const before = (await status()).pid;
  await systemd.restart('host-agent.service');
  const s = await eventually(status, (x) => x.pid !== before && x.config.lastApply !== undefined, 'the apply after the restart', 30_000);
  assert.equal(s.state, 'running');
  assert.equal(s.config.lastApply!.error?.code, 'disk.full');
  assert.equal(await readFile(settings(), 'utf8'), 'mode=one\n');
});

test('once space is freed the configuration applies and becomes the last good one', async () => {
  await rm(join(full, 'filler'));
  const r = await agentctl(['config', 'apply', '--json'], { env: sbx.env });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(await readFile(settings(), 'utf8'), /^mode=two\n/);
  assert.match(await readFile(join(sbx.unitDir, 'alpha.service'), 'utf8'), /alpha two/);
  assert.match(await readFile(lastGood(), 'utf8'), /mode=two/);
  assert.equal((await status()).config.lastApply!.error, undefined);
});
