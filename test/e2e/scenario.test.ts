/**
 * The end-to-end scenario (issue 8, docs/e2e.md): host-agent installed by scripts/install
 * on a whole Debian 12 host booted with systemd as PID 1 (scripts/host-image +
 * systemd-nspawn --boot), on the system bus with its D-Bus policy enforced, through a real
 * reboot. One test per step, in order; a failed step skips the rest. Run by
 * `scripts/test --e2e` (and plain scripts/test), or alone with `scripts/e2e`.
 *
 * Adding a step: `scenario.step(name, async () => { … })` at its place in the story,
 * using `host.exec([...], { user })` inside the host and `host.writeFile` for its files.
 */
import { after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO } from '../lib/repo.js';
import { makeDisk } from '../lib/disk.js';
import type { AgentStatus } from '../../agent/api/agent1.js';
import { DISK_INSIDE, E2E_USER, RealHost } from './lib/real-host.js';
import { Scenario } from './lib/scenario.js';

const run = promisify(execFile);
/** This checkout, bound read-only into the host (to run scripts/install there). */
const REPO_INSIDE = '/usr/src/host-agent';
const scenario = new Scenario();
let host: RealHost;
let dir: string;

after(async () => {
  await scenario.tearDown();
  process.stdout.write(`\n${scenario.summary()}\n`);
});

/** Poll `check` until it resolves; its last error explains a timeout. */
async function eventually(what: string, check: () => Promise<void>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`${what}: not so after ${timeoutMs} ms: ${e instanceof Error ? e.message : e}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function unitProps(unit: string, ...props: string[]): Promise<Record<string, string>> {
  const { stdout } = await host.exec(['systemctl', 'show', unit, ...props.map((p) => `--property=${p}`)]);
  return Object.fromEntries(stdout.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

async function statusJson(user?: string): Promise<AgentStatus> {
  const { stdout } = await host.exec(['agentctl', 'status', '--json'], { ...(user && { user }) });
  return JSON.parse(stdout) as AgentStatus;
}

/** The agent is up as installed: started by systemd from the installed unit, on the system bus. */
async function assertAgentStartedAtBoot(): Promise<void> {
  const p = await unitProps('host-agent.service', 'ActiveState', 'SubState', 'Type', 'BusName', 'FragmentPath', 'UnitFileState', 'NRestarts');
  // Debian 12 has a merged /usr: systemd names the unit by the first of its search paths.
  assert.match(p.FragmentPath!, /^(\/usr)?\/lib\/systemd\/system\/host-agent\.service$/);
  assert.deepEqual({ ...p, FragmentPath: undefined }, {
    ActiveState: 'active', SubState: 'running', Type: 'dbus', BusName: 'org.hostagent.Agent1',
    FragmentPath: undefined, UnitFileState: 'enabled', NRestarts: '0',
  });
  const owner = await host.exec(['busctl', '--system', 'status', '--no-pager', 'org.hostagent.Agent1']);
  assert.match(owner.stdout, /^Unit=host-agent\.service$/m);
  // Started for systemd (bus name owned) can still be "starting" for the agent.
  await eventually('agentctl status says running', async () => {
    const status = await statusJson();
    assert.equal(status.state, 'running');
    assert.deepEqual({ bus: status.systemd.bus, connected: status.systemd.connected }, { bus: 'system', connected: true });
  }, 10_000);
}

const CLOUD_CONFIG = `#cloud-config
hostname: e2e-real-host
write_files:
  - path: /etc/e2e/motd
    permissions: "0644"
    content: |
      written by host-agent on a real host
coreos:
  units:
    - name: e2e-hello.service
      command: start
      enable: true
      content: |
        [Unit]
        Description=a plain unit from cloud-config
        [Service]
        ExecStart=/bin/sh -c 'echo hello from a real host; exec sleep infinity'
        [Install]
        WantedBy=multi-user.target
`;
const LATE_DROPIN = `#cloud-config
coreos:
  units:
    - name: e2e-late.service
      command: start
      content: |
        [Service]
        ExecStart=/bin/sleep infinity
`;
// Containers (issue 5): two containers go into CLOUD_CONFIG here, with their images
// fetched from a loopback server or a file bound into the host.

async function assertHelloRunning(): Promise<void> {
  const p = await unitProps('e2e-hello.service', 'ActiveState', 'UnitFileState');
  assert.deepEqual(p, { ActiveState: 'active', UnitFileState: 'enabled' });
}

/** agentctl status shows the unit as systemd has it (its state follows systemd's signals). */
async function assertStatusShows(unit: string, activeState: string): Promise<void> {
  const shown = (await statusJson()).units.find((u) => u.name === unit);
  assert.equal(shown?.activeState, activeState, `agentctl status --json shows ${unit}: ${JSON.stringify(shown)}`);
}

scenario.step('build the host image (debootstrap layer cached, install layer by build hash)', async () => {
  dir = await mkdtemp(join(tmpdir(), 'host-agent-e2e-'));
  scenario.after(async () => {
    // Never remove through a root still mounted (a failed unmount fails the run).
    if (!(await readFile('/proc/self/mountinfo', 'utf8')).includes(` ${dir}/`)) await rm(dir, { recursive: true, force: true });
  });
  await run(join(REPO, 'scripts/host-image'), ['build'], { maxBuffer: 1 << 24 });
});

scenario.step('boot the host: systemd-nspawn --boot as a unit, systemd PID 1 reaches running', async () => {
  const disk = await makeDisk(dir);
  scenario.onFailure(async () => `host-agent's journal on the host:\n${await host.journal('host-agent.service')}`);
  host = await RealHost.boot(scenario, { dir, disk: disk.path, nspawnArgs: [`--bind-ro=${REPO.replace(/\/$/, '')}:${REPO_INSIDE}`] });
  const { stdout } = await host.exec(['sgdisk', '--print', DISK_INSIDE]);
  assert.match(stdout, /USR-A/);
  assert.match(stdout, /USR-B/);
  assert.equal((await host.exec(['readlink', '/proc/1/exe'])).stdout.trim(), '/usr/lib/systemd/systemd');
  scenario.note(`boot, from starting the host unit to running: ${(host.bootMs / 1000).toFixed(2)} s`);
});

scenario.step('host-agent.service started at boot from the installed unit (Type=dbus, system bus)', assertAgentStartedAtBoot);

scenario.step('agentctl status works as root and as an unprivileged user', async () => {
  for (const user of [undefined, E2E_USER]) {
    const { stdout } = await host.exec(['agentctl', 'status'], { ...(user && { user }) });
    assert.match(stdout, /host-agent \S+ — running/);
    assert.match(stdout, /on the system bus/);
    assert.equal((await statusJson(user)).state, 'running');
  }
});

scenario.step('the D-Bus policy refuses changes to the unprivileged user, allows them to root', async () => {
  for (const verb of [['reload'], ['config', 'apply']]) {
    const r = await host.exec(['agentctl', ...verb], { user: E2E_USER, allowFailure: true });
    assert.equal(r.code, 1, `agentctl ${verb.join(' ')} as ${E2E_USER}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /refused/);
    assert.match(r.stderr, /root/);
  }
  await host.exec(['agentctl', 'reload']);
  await host.exec(['systemctl', 'reload', 'host-agent.service']); // ExecReload= under the unit's hardening
});

// Found on the real host: scripts/install listed the dependencies with `npm ls`, and a
// host with node but no npm got an agent without node_modules that failed at start.
scenario.step('scripts/install on the host itself (prefix /, no npm there), then the agent restarts', async () => {
  assert.notEqual((await host.exec(['sh', '-c', 'command -v npm'], { allowFailure: true })).code, 0, 'the host has no npm');
  await host.exec([`${REPO_INSIDE}/scripts/install`]);
  await host.exec(['systemctl', 'restart', 'host-agent.service']);
  // systemd counts it started once it owns its bus name, while it may still say
  // "starting" (see the known bug below): wait for it to finish starting.
  await eventually('agentctl status says running', async () => assert.equal((await statusJson()).state, 'running'), 10_000);
});

scenario.step('a cloud-config written to /etc/host-agent is applied by the watching agent: its plain unit runs', async () => {
  await host.writeFile('/etc/host-agent/cloud-config.yaml', CLOUD_CONFIG);
  await eventually('e2e-hello.service active and enabled', assertHelloRunning);
  const status = await statusJson();
  assert.equal(status.config.state, 'ok');
  assert.deepEqual(status.config.lastApply?.steps.filter((s) => s.error), []);
  assert.ok(status.units.some((u) => u.name === 'e2e-hello.service'), 'agentctl status lists e2e-hello.service');
  assert.equal((await host.exec(['cat', '/etc/e2e/motd'])).stdout, 'written by host-agent on a real host\n');
  assert.equal((await host.exec(['hostname'])).stdout.trim(), 'e2e-real-host');
  const again = await host.exec(['agentctl', 'config', 'plan']);
  assert.match(again.stdout, /Nothing to do/);
  const shown = await host.exec(['agentctl', 'status'], { user: E2E_USER });
  scenario.note(`\n\`agentctl status\` on the real host (as ${E2E_USER}):\n${shown.stdout}`);
});

// Broke on the real host, not in the sandbox (1 run in 5): the status board kept
// e2e-hello.service as "inactive/dead" with the PID of its running process. ManagedUnits
// read unit states concurrently after a daemon reload and on PropertiesChanged, and the
// last read to finish won even when it started first; a signal for a unit not yet on the
// board was dropped. Fixed: per-unit read generations, signals replayed after a rescan.
scenario.step('agentctl status shows the applied unit as systemd has it (active)', async () => {
  await eventually('agentctl status shows e2e-hello.service active', () => assertStatusShows('e2e-hello.service', 'active'), 5000);
});

scenario.pending('two containers from the cloud-config run as units', 'issue 5: containers');
scenario.pending('an OS update is staged from a channel on loopback', 'issue 6: OS updates');

scenario.step('the host reboots for real (systemctl reboot: nspawn exits 133, restarted)', async () => {
  const leaderBefore = await host.leader();
  const { restarts, ms } = await host.reboot();
  scenario.note(`reboot, from systemctl reboot to running again: ${(ms / 1000).toFixed(2)} s`);
  assert.equal(restarts, 1, 'the host unit was restarted once, by exit status 133');
  assert.notEqual(await host.leader(), leaderBefore, 'a new PID 1');
  assert.match(await host.consoleTail(400), /Rebooting\./);
});

scenario.step('after the reboot: host-agent started at boot again, the enabled unit runs again', async () => {
  await assertAgentStartedAtBoot();
  await assertHelloRunning();
  assert.equal((await host.exec(['hostname'])).stdout.trim(), 'e2e-real-host');
});

scenario.pending('booted into the new slot (bootloader from the GPT attributes), marked good', 'issue 6: OS updates');
scenario.pending('containers came back at boot from their enabled units, before and without the agent', 'issue 5: containers');

// Broke on the real host, not in the sandbox (every run): systemd counted host-agent
// started (Type=dbus) once it owned its bus name, before it read and watched its
// configuration; a file written in between was not applied until the next change.
// Fixed: agentd watches, then reads, and only then takes its bus name.
scenario.step('a config drop-in written as soon as the host is running (after a reboot) is applied', async () => {
  await host.reboot();
  await host.writeFile('/etc/host-agent/config.d/50-e2e-late.yaml', LATE_DROPIN);
  try {
    await eventually('e2e-late.service active', async () => {
      assert.equal((await unitProps('e2e-late.service', 'ActiveState')).ActiveState, 'active');
    }, 6000); // applied within ~1 s when the watcher sees the file
  } finally {
    await host.exec(['agentctl', 'config', 'apply']); // the steps after this one start from the same state
  }
});

scenario.step('shut the host down: the unit stops, nothing is left running', async () => {
  await host.systemctl('stop', 'e2e-host.service');
  assert.equal(await host.unitProperty('ActiveState'), 'inactive');
});
