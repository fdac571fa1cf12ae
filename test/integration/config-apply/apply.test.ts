/**
 * cloud-config applied by agentd through a real (sandboxed) systemd: units with drop-ins
 * and masks, write_files and hostname under a host root; edits restart only what changed;
 * a broken edit leaves everything running and shows its errors; an agent restart changes
 * nothing.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, rm, stat, writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { AgentStatus, ApplyReport } from '../../../agent/api/agent1.js';
import { SystemdManager } from '../../../agent/host/systemd/manager.js';
import { startSandbox, type Sandbox } from '../../lib/sandbox.js';
import { agentctl, agentdUnit } from '../../lib/agent.js';
import { eventually } from '../../lib/eventually.js';

let sbx: Sandbox;
let systemd: SystemdManager;
let configFile: string;
let root: string;
const cleanups: Array<() => unknown> = [];

const unit = (desc: string): string => `        [Unit]\n        Description=${desc}\n        [Service]\n        ExecStart=/bin/sleep 600\n`;

function cloudConfig(aDesc: string, env: string): string {
  return `#cloud-config
hostname: sandbox-host
write_files:
  - path: /etc/app/settings.conf
    permissions: "0640"
    content: |
      mode=${env}
coreos:
  units:
    - name: alpha.service
      command: start
      content: |
${unit(aDesc)}      drop-ins:
        - name: 10-env.conf
          content: |
            [Service]
            Environment=MODE=${env}
    - name: beta.service
      command: start
      content: |
${unit('beta')}    - name: gamma.service
      mask: true
`;
}

/** Replace the config file atomically, as an editor or config management would. */
async function writeConfig(text: string): Promise<void> {
  await writeFile(`${configFile}.new`, text);
  await rename(`${configFile}.new`, configFile);
}

async function status(): Promise<AgentStatus> {
  const r = await agentctl(['status', '--json'], { env: sbx.env });
  const doc = JSON.parse(r.stdout) as AgentStatus;
  // 1: degraded (an invalid config, a failed apply step or unit), else 0.
  const degraded = doc.config.state === 'invalid' || doc.units.some((u) => u.activeState === 'failed') || (doc.config.lastApply?.steps.some((s) => s.error) ?? false);
  assert.equal(r.code, degraded ? 1 : 0, r.stderr);
  return doc;
}


const pidOf = async (name: string): Promise<number> => (await systemd.unitStatus(name)).mainPid;

before(async () => {
  sbx = await startSandbox({ after: (fn) => cleanups.push(fn) });
  systemd = await SystemdManager.connect('session', sbx.env);
  root = join(sbx.dir, 'root');
  await mkdir(join(root, 'etc'), { recursive: true });
  configFile = join(sbx.dir, 'cloud-config.yaml');
  await writeConfig(cloudConfig('alpha', 'one'));
  await writeFile(join(sbx.unitDir, 'host-agent.service'), agentdUnit([
    `--config ${configFile}`, `--config-dir ${sbx.dir}/config.d`, `--system-config-dir ${sbx.dir}/lib-config.d`,
    `--state-dir ${sbx.dir}/state`, `--host-root ${root}`,
  ]));
  await systemd.daemonReload();
  await systemd.start('host-agent.service');
});

after(async () => {
  systemd?.close();
  for (const fn of cleanups.reverse()) await fn();
});

test('the config is applied: units started, drop-in in effect, mask, files and hostname', async () => {
  const s = await eventually(status, (x) => x.config.lastApply !== undefined, 'the first apply');
  assert.equal(s.config.state, 'ok');
  assert.deepEqual(s.config.lastApply!.steps.filter((x) => x.error), []);
  assert.equal((await systemd.unitStatus('alpha.service')).activeState, 'active');
  assert.equal((await systemd.unitStatus('beta.service')).activeState, 'active');
  assert.equal(await systemd.unitFileState('gamma.service'), 'masked');
  const env = await sbx.systemctl('show', '-p', 'Environment', 'alpha.service');
  assert.match(env, /MODE=one/);
  const settings = join(root, 'etc/app/settings.conf');
  assert.equal(await readFile(settings, 'utf8'), 'mode=one\n');
  assert.equal((await stat(settings)).mode & 0o777, 0o640);
  assert.equal(await readFile(join(root, 'etc/hostname'), 'utf8'), 'sandbox-host\n');
  const managed = s.units.map((u) => u.name);
  assert.ok(managed.includes('alpha.service') && managed.includes('beta.service'));
});

test('config plan is empty once applied', async () => {
  const r = await agentctl(['config', 'plan'], { env: sbx.env });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Nothing to do/);
});

test('an edit restarts only the unit whose content changed', async () => {
  const alphaBefore = await pidOf('alpha.service');
  const betaBefore = await pidOf('beta.service');
  await writeConfig(cloudConfig('alpha', 'two'));
  await eventually(() => sbx.systemctl('show', '-p', 'Environment', 'alpha.service'), (e) => /MODE=two/.test(e), 'the new drop-in');
  await eventually(() => pidOf('alpha.service'), (pid) => pid > 0 && pid !== alphaBefore, 'alpha to restart');
  assert.equal(await pidOf('beta.service'), betaBefore, 'beta kept running untouched');
  assert.equal(await readFile(join(root, 'etc/app/settings.conf'), 'utf8'), 'mode=two\n');
});

test('a broken edit changes nothing and shows the error with file and line', async () => {
  const alpha = await pidOf('alpha.service');
  const beta = await pidOf('beta.service');
  await writeConfig(cloudConfig('alpha', 'three').replace('command: start', 'command: lol'));
  const s = await eventually(status, (x) => x.config.state === 'invalid', 'the config to show invalid');
  const entry = s.config.entries.find((e) => e.level === 'error')!;
  assert.equal(entry.file, configFile);
  assert.equal(entry.message, 'invalid value lol');
  assert.ok(entry.line > 1);
  assert.equal(await pidOf('alpha.service'), alpha);
  assert.equal(await pidOf('beta.service'), beta);
  assert.equal(await readFile(join(root, 'etc/app/settings.conf'), 'utf8'), 'mode=two\n');
  const human = await agentctl(['status'], { env: sbx.env });
  assert.match(human.stdout, new RegExp(`${configFile}: line ${entry.line}: error: invalid value lol`));
});

test('fixing it applies it', async () => {
  await writeConfig(cloudConfig('alpha', 'four'));
  await eventually(status, (x) => x.config.state === 'ok', 'the config to be ok again');
  await eventually(() => sbx.systemctl('show', '-p', 'Environment', 'alpha.service'), (e) => /MODE=four/.test(e), 'the fixed drop-in');
});

test('an agent restart applies nothing new', async () => {
  await eventually(() => agentctl(['config', 'plan'], { env: sbx.env }), (r) => /Nothing to do/.test(r.stdout), 'a settled host');
  const pids = [await pidOf('alpha.service'), await pidOf('beta.service')];
  await systemd.restart('host-agent.service');
  const s = await eventually(status, (x) => x.config.lastApply !== undefined, 'the apply after restart');
  assert.deepEqual(s.config.lastApply!.steps, []);
  assert.deepEqual([await pidOf('alpha.service'), await pidOf('beta.service')], pids);
});

test('a unit removed from the config is stopped and its file removed; config apply then has nothing to do', async () => {
  const text = cloudConfig('alpha', 'four').replace(/    - name: beta\.service[\s\S]*?(?=    - name: gamma)/, '');
  await writeConfig(text);
  await eventually(() => systemd.unitStatus('beta.service'), (u) => u.activeState === 'inactive' && u.loadState === 'not-found', 'beta stopped and gone');
  const r = await agentctl(['config', 'apply', '--json'], { env: sbx.env });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.deepEqual((JSON.parse(r.stdout) as ApplyReport).steps, []);
  const s = await status();
  assert.ok(!s.units.some((u) => u.name === 'beta.service'), 'no longer listed as managed');
});

test('hostile files are reported and the agent stays up on its last good config', async () => {
  const agentPid = (await status()).pid;
  const alpha = await pidOf('alpha.service');
  const bomb = ['#cloud-config', 'a: &a ["x","x","x","x","x","x","x","x","x"]', ...Array.from({ length: 9 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)}]`)].join('\n');
  const hostile: Array<[string, string | Buffer]> = [
    ['binary', Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256))],
    ['10 MB', `#cloud-config\nhostname: x\n# ${'y'.repeat(10 * 1024 * 1024)}\n`],
    ['alias bomb', bomb],
    ['deep nesting', `#cloud-config\nx: ${'['.repeat(5000)}${']'.repeat(5000)}\n`],
    ['path traversal', '#cloud-config\nwrite_files:\n  - path: /etc/../usr/x\n    content: no\n'],
    ['unknown encoding', '#cloud-config\nwrite_files:\n  - path: /etc/x\n    encoding: rot13\n    content: no\n'],
  ];
  for (const [what, content] of hostile) {
    await writeFile(`${configFile}.new`, content);
    await rename(`${configFile}.new`, configFile);
    const s = await eventually(status, (x) => x.config.state === 'invalid' && x.config.entries.some((e) => e.level === 'error'), `${what} to be reported`);
    assert.equal(s.pid, agentPid, `${what}: the agent kept running`);
    assert.ok(s.config.entries.every((e) => e.message.length < 400), `${what}: messages stay short`);
    await writeConfig(cloudConfig('alpha', 'four').replace(/    - name: beta\.service[\s\S]*?(?=    - name: gamma)/, ''));
    await eventually(status, (x) => x.config.state === 'ok', `recovery after ${what}`);
  }
  assert.equal(await pidOf('alpha.service'), alpha);
});

test('an invalid drop-in: reload, config apply and config plan exit non-zero with its errors; status names the drop-in', async () => {
  const alpha = await pidOf('alpha.service');
  const dropIn = join(sbx.dir, 'config.d', '50-broken.yaml');
  await mkdir(join(sbx.dir, 'config.d'), { recursive: true });
  await writeFile(dropIn, '#cloud-config\nhostname: [unclosed\n');
  try {
    for (const argv of [['reload'], ['config', 'apply'], ['config', 'plan'], ['config', 'plan', '--json']]) {
      const r = await agentctl(argv, { env: sbx.env });
      assert.notEqual(r.code, 0, `${argv.join(' ')}: ${r.stdout}`);
      assert.doesNotMatch(r.stdout, /Nothing to do/, argv.join(' '));
      assert.match(r.stderr, new RegExp(`${dropIn}: line \\d+: error: `), argv.join(' '));
    }
    const s = await eventually(status, (x) => x.config.state === 'invalid', 'the config to show invalid');
    assert.deepEqual(s.config.invalidFiles, [dropIn]);
    const human = await agentctl(['status'], { env: sbx.env });
    assert.match(human.stdout, new RegExp(`\\(invalid: ${dropIn}; the last good configuration is in force\\)`));
    assert.equal(await pidOf('alpha.service'), alpha);
  } finally {
    await rm(dropIn, { force: true });
  }
  // The drop-in directory was made after agentd started, so its watcher may not see it: reload.
  const reload = await agentctl(['reload'], { env: sbx.env });
  assert.equal(reload.code, 0, reload.stderr);
  assert.equal((await status()).config.state, 'ok');
});

test('config show prints cloud-config YAML that validates clean; validate of a missing file fails; validate --json', async () => {
  const dirs = ['--config', configFile, '--config-dir', join(sbx.dir, 'config.d'), '--system-config-dir', join(sbx.dir, 'lib-config.d')];
  const shown = await agentctl(['config', 'show', ...dirs], { env: sbx.env });
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /^#cloud-config\n/);
  assert.match(shown.stdout, /^ {4}permissions: "0640"$/m, 'a string field keeps its text');
  const copy = join(sbx.dir, 'shown.yaml');
  await writeFile(copy, shown.stdout);
  const again = await agentctl(['config', 'validate', copy], { env: sbx.env });
  assert.deepEqual([again.code, again.stdout], [0, '']);
  const missing = await agentctl(['config', 'validate', join(sbx.dir, 'nonexistent.yaml')], { env: sbx.env });
  assert.equal(missing.code, 1);
  assert.match(missing.stdout, /nonexistent\.yaml: line 0: error: no such file/);
  const json = await agentctl(['config', 'validate', '--json', copy], { env: sbx.env });
  assert.deepEqual(JSON.parse(json.stdout), { valid: true, files: [copy], entries: [] });
});
