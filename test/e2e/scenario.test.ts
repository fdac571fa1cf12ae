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
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO } from '../lib/repo.js';
import { cgptAttributes, expectedBits, makeDisk, sgdiskBits, slotHash, type TestDisk } from '../lib/disk.js';
import { goodImage, writeAci } from '../lib/aci.js';
import { makeGpg, type Gpg, type GpgKey } from '../lib/gpg.js';
import { imageBytes, sha512 } from '../integration/update/helpers/release.js';
import { serveDir, type TestServer } from '../integration/update/helpers/server.js';
import { startOmahaServer, type OmahaServer } from '../lib/omaha-server.js';
import { COREOS_APP_ID } from '../../agent/core/update/omaha.js';
import type { AgentStatus, ContainerStatus, UpdateStatusDocument } from '../../agent/api/agent1.js';
import { DISK_INSIDE, E2E_USER, RealHost } from './lib/real-host.js';
import { Scenario } from './lib/scenario.js';

const run = promisify(execFile);
/** This checkout, bound read-only into the host (to run scripts/install there). */
const REPO_INSIDE = '/usr/src/host-agent';
/** The kernel command line the e2e bootloader writes before each boot; agentd's --boot-cmdline. */
const CMDLINE_INSIDE = '/run/e2e/cmdline';
/** Where the image files are put inside the host (not /tmp: agentd has PrivateTmp=yes). */
const IMAGES_INSIDE = '/srv/e2e';
const IMAGE = 'e2e.example/busybox';
const CONTAINERS = ['e2e-one', 'e2e-two'];
/** A container of isolation fly, declared with the others; it reports what its payload may do. */
const FLY = 'e2e-fly';
const FLY_DATA = `${IMAGES_INSIDE}/fly`;
/** podman's default capabilities as a /proc/PID/status mask (test/integration/containers/privileges.test.ts). */
const PODMAN_MASK = '00000000800405fb';
const UPDATE_GROUP = 'e2e';
/** Newer than anything: Debian's VERSION_ID (12) is not a semantic version, so any release is taken. */
const NEW_VERSION = '13.0.0';
/** The second update, which breaks a service of the cloud-config (BROKEN_UNIT): its boot is unhealthy. */
const BAD_VERSION = '14.0.0';
const BROKEN_UNIT = 'e2e-os-check.service';
/** Each slot's os-release (test/e2e/lib/usr-release.ts): what the release staged there carries. */
const USR_RELEASES = 'usr-release';
const scenario = new Scenario();
let host: RealHost;
let dir: string;
let disk: TestDisk;
let gpg: Gpg;
/** The key of the update keyring that signs the payloads. */
let releaseKey: GpgKey;
/** The Omaha server on loopback (its /v1/update/ URL is the cloud-config's update server), once started. */
let omaha: OmahaServer | undefined;
/** Serves the payloads and their .asc on loopback. */
let payloads: TestServer;
/** The version the host ran before its first update (the image's VERSION_ID). */
let oldVersion: string;

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
  const { stdout } = await host.exec(['agentctl', 'status', '--json'], { allowFailure: true, ...(user && { user }) });
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

/**
 * The host's cloud-config: a plain unit, a file and the host name; then two containers
 * (steps 9 and 10); then the update channel (step 11), with reboots left to the scenario.
 * The containers use the host's network: the host is itself an nspawn container sharing
 * this machine's network namespace without CAP_NET_ADMIN, so it cannot make the bridges of
 * the default network (those are tested on the sandbox: test/integration/containers/network.test.ts).
 */
function cloudConfig(parts: { containers?: boolean; update?: boolean; broken?: boolean } = {}): string {
  if (parts.update && !omaha) throw new Error('the Omaha server is not started yet');
  const update = parts.update ? `  update:
    server: ${omaha!.url}
    group: ${UPDATE_GROUP}
    reboot-strategy: "off"
` : '';
  // Required for a healthy boot (enabled and started); it fails when the host runs BAD_VERSION.
  const broken = parts.broken ? `    - name: ${BROKEN_UNIT}
      command: start
      enable: true
      content: |
        [Unit]
        Description=a service that release ${BAD_VERSION} breaks
        [Service]
        ExecStart=/bin/sh -c 'if grep -qx VERSION_ID=${BAD_VERSION} /etc/os-release; then echo broken by ${BAD_VERSION}; exit 1; fi; exec sleep infinity'
        [Install]
        WantedBy=multi-user.target
` : '';
  const containers = parts.containers ? `host-agent:
  containers:
${CONTAINERS.map((name) => `    - name: ${name}
      image: ${IMAGE}:1.0.0
      exec: [/bin/sh, -c, "echo ${name} up; exec sleep 1000000"]
      restart: always
      network: host
`).join('')}    - name: ${FLY}
      image: ${IMAGE}:1.0.0
      isolation: fly
      volumes: [{host: ${FLY_DATA}, path: /data}]
      exec: [/bin/sh, -c, "cat /proc/self/status > /data/status; v=$(cat /proc/sys/vm/swappiness); (echo $v > /proc/sys/vm/swappiness) 2> /data/write-error; echo $? > /data/write-status; exec sleep 1000000"]
      restart: always
` : '';
  return `#cloud-config
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
${broken}${update}${containers}`;
}
const LATE_DROPIN = `#cloud-config
coreos:
  units:
    - name: e2e-late.service
      command: start
      content: |
        [Service]
        ExecStart=/bin/sleep infinity
`;

async function containersJson(): Promise<ContainerStatus[]> {
  return JSON.parse((await host.exec(['agentctl', 'ps', '--json'])).stdout) as ContainerStatus[];
}

async function updateStatus(): Promise<UpdateStatusDocument> {
  return JSON.parse((await host.exec(['agentctl', 'update', 'status', '--json'])).stdout) as UpdateStatusDocument;
}

/** `agentctl update check`: the agent asks the Omaha server now (and posts the events due). */
async function updateCheck(): Promise<UpdateStatusDocument> {
  return JSON.parse((await host.exec(['agentctl', 'update', 'check', '--json'], { timeoutMs: 60_000 })).stdout) as UpdateStatusDocument;
}

/** The Omaha server's package for the group: `usr-V.img` and its `.asc` (signed by the release key) served on loopback. */
async function offerUpdate(version: string): Promise<Buffer> {
  const image = imageBytes(version, 3 * 1024 * 1024 + 4321);
  const name = `usr-${version}.img`;
  await writeFile(join(dir, 'payloads', name), image);
  await gpg.sign(join(dir, 'payloads', name), releaseKey);
  omaha!.groups.get(UPDATE_GROUP)!.package = {
    version, name, size: image.length, sha256: createHash('sha256').update(image).digest('base64'), codebase: `${payloads.url}/`,
  };
  return image;
}

/** The slot now holds `version`: the boots of that slot run it (its os-release, test/e2e/lib/usr-release.ts). */
async function slotCarries(slot: 'A' | 'B', version: string): Promise<void> {
  const image = await readFile(join(host.root, 'usr/lib/os-release'), 'utf8');
  await writeFile(join(dir, USR_RELEASES, slot), image.replace(/^VERSION_ID=.*$/m, `VERSION_ID=${version}`));
}

/** The events the Omaha server received from the host, in order: `type/result[ errorcode=N][ previousversion=V]`. */
async function omahaEvents(): Promise<string[]> {
  const machineId = (await host.exec(['cat', '/etc/machine-id'])).stdout.trim();
  assert.deepEqual([...omaha!.instances.keys()], [machineId], 'one instance on the server: the host, by its machine id');
  return omaha!.instances.get(machineId)!.events.map((e) =>
    `${e.type}/${e.result}${e.errorCode !== undefined ? ` errorcode=${e.errorCode}` : ''}${e.previousVersion !== undefined ? ` previousversion=${e.previousVersion}` : ''}`);
}

/** Both declared containers shown running by agentctl ps, and active for systemd. */
async function assertContainersRunning(): Promise<void> {
  const ps = await containersJson();
  assert.deepEqual(CONTAINERS.map((n) => ps.find((c) => c.name === n)?.state), CONTAINERS.map(() => 'running'), JSON.stringify(ps));
  for (const name of CONTAINERS) {
    assert.equal((await unitProps(`container-${name}.service`, 'ActiveState')).ActiveState, 'active');
  }
}

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
  disk = await makeDisk(dir);
  // Containers put an overlay's upper layer under the state directory, and overlayfs
  // refuses an upper layer on overlayfs (the host's root): the state lives on this
  // machine's file system instead, as /var/lib does on a real host. Kept across reboots.
  const state = join(dir, 'var-lib-host-agent');
  await mkdir(state, { mode: 0o700 });
  const repo = REPO.replace(/\/$/, '');
  const modules = await realpath(join(repo, 'node_modules'));
  await mkdir(join(dir, USR_RELEASES));
  scenario.onFailure(async () => `host-agent's journal on the host:\n${await host.journal('host-agent.service')}`);
  host = await RealHost.boot(scenario, {
    dir,
    disk: disk.path,
    nspawnArgs: [
      `--bind-ro=${repo}:${REPO_INSIDE}`, `--bind=${state}:/var/lib/host-agent`, `--bind-ro=${join(dir, 'cmdline')}:${CMDLINE_INSIDE}`,
      // A checkout whose node_modules links elsewhere (a git worktree sharing one): the
      // target at the same path, so the link resolves inside for scripts/install.
      ...(modules.startsWith(`${repo}/`) ? [] : [`--bind-ro=${modules}:${modules}`]),
      // The booted slot's os-release (where agentd reads the version it runs).
      `--bind-ro=${join(dir, 'os-release')}:/usr/lib/os-release`,
    ],
    // The bootloader, before every boot: the slot from the GPT attributes, a try spent, the
    // agent's boot entry of that slot on the command line (a verity.usrhash= checked).
    beforeBoot: [
      `/usr/bin/env -C ${repo} ${process.execPath} --import tsx test/e2e/lib/bootloader.ts ${disk.path} ${join(dir, 'cmdline')} ${join(dir, 'boots')} ${join(state, 'updates', 'boot-entries')}`,
      // Then the os-release of the slot booted (the image's until a release is staged there).
      `/usr/bin/env -C ${repo} ${process.execPath} --import tsx test/e2e/lib/usr-release.ts ${join(dir, 'boots')} ${join(dir, USR_RELEASES)} ${join(dir, 'root/usr/lib/os-release')} ${join(dir, 'os-release')}`,
    ],
  });
  assert.equal(await readFile(join(dir, 'boots'), 'utf8'), 'A\n', 'the bootloader booted USR-A');
  assert.match((await host.exec(['cat', CMDLINE_INSIDE])).stdout, new RegExp(`mount\\.usr=PARTUUID=${disk.partUuid.A}`));
  const { stdout } = await host.exec(['sgdisk', '--print', DISK_INSIDE]);
  assert.match(stdout, /USR-A/);
  assert.match(stdout, /USR-B/);
  assert.equal((await host.exec(['readlink', '/proc/1/exe'])).stdout.trim(), '/usr/lib/systemd/systemd');
  scenario.note(`boot, from starting the host unit to running: ${(host.bootMs / 1000).toFixed(2)} s`);
});

scenario.step('host-agent.service started at boot from the installed unit (Type=dbus, system bus)', assertAgentStartedAtBoot);

scenario.step('agentctl status works as root and as an unprivileged user', async () => {
  for (const user of [undefined, E2E_USER]) {
    const { stdout } = await host.exec(['agentctl', 'status'], { allowFailure: true, ...(user && { user }) });
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
  const installed = await host.exec([`${REPO_INSIDE}/scripts/install`]);
  assert.doesNotMatch(installed.stderr, /missing run-time packages/, 'the host image has every run-time package (attr too)');
  await host.exec(['systemctl', 'restart', 'host-agent.service']);
  // systemd counts it started once it owns its bus name, while it may still say
  // "starting" (see the known bug below): wait for it to finish starting.
  await eventually('agentctl status says running', async () => assert.equal((await statusJson()).state, 'running'), 10_000);
});

scenario.step('a cloud-config written to /etc/host-agent is applied by the watching agent: its plain unit runs', async () => {
  await host.writeFile('/etc/host-agent/cloud-config.yaml', cloudConfig());
  await eventually('e2e-hello.service active and enabled', assertHelloRunning);
  const status = await statusJson();
  assert.equal(status.config.state, 'ok');
  assert.deepEqual(status.config.lastApply?.steps.filter((s) => s.error), []);
  assert.ok(status.units.some((u) => u.name === 'e2e-hello.service'), 'agentctl status lists e2e-hello.service');
  assert.equal((await host.exec(['cat', '/etc/e2e/motd'])).stdout, 'written by host-agent on a real host\n');
  assert.equal((await host.exec(['hostname'])).stdout.trim(), 'e2e-real-host');
  const again = await host.exec(['agentctl', 'config', 'plan']);
  assert.match(again.stdout, /Nothing to do/);
  const shown = await host.exec(['agentctl', 'status'], { user: E2E_USER, allowFailure: true });
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

scenario.step('two containers from the cloud-config run as units (signed busybox ACI, key trusted for its prefix)', async () => {
  gpg = await makeGpg(scenario);
  const key = await gpg.newKey('E2E Image Publisher <images@e2e.example>');
  // Like every Debian-based image: a setuid-root program and a setgid directory (root:mail 2775).
  const aci = await writeAci(join(dir, 'busybox-1.0.0.aci'), goodImage(IMAGE, { version: '1.0.0' }, [
    { name: 'rootfs/bin/sleep', type: 'symlink', linkname: 'busybox' },
    { name: 'rootfs/bin/su', mode: 0o4755, content: '#!/bin/sh\n' },
    { name: 'rootfs/var', type: 'directory', mode: 0o755 },
    { name: 'rootfs/var/mail', type: 'directory', mode: 0o2775, gid: 8 },
  ]));
  await gpg.sign(aci, key);
  // The image reaches the host as files (a signed ACI and its .asc), the key through agentctl trust.
  await host.copyIn(aci, `${IMAGES_INSIDE}/busybox-1.0.0.aci`);
  await host.copyIn(`${aci}.asc`, `${IMAGES_INSIDE}/busybox-1.0.0.aci.asc`);
  await host.writeFile(`${IMAGES_INSIDE}/publisher.pub`, key.armored);
  await host.exec(['agentctl', 'trust', '--prefix', IMAGE, `${IMAGES_INSIDE}/publisher.pub`]);
  await host.exec(['test', '-s', `/etc/host-agent/trustedkeys/prefix.d/${IMAGE}/${key.fingerprint}`]);
  await host.exec(['agentctl', 'fetch', `${IMAGES_INSIDE}/busybox-1.0.0.aci`], { timeoutMs: 60_000 });
  // Stored by agentd under its installed unit, setuid and setgid bits kept (issue 12, item 5).
  const modes = await host.exec(['sh', '-c', 'cd /var/lib/host-agent/images/sha512-*/rootfs && stat -c "%n %a %u:%g" bin/su var/mail']);
  assert.equal(modes.stdout, 'bin/su 4755 0:0\nvar/mail 2775 0:8\n');
  await host.exec(['mkdir', '-p', FLY_DATA]);
  await host.writeFile('/etc/host-agent/cloud-config.yaml', cloudConfig({ containers: true }));
  await eventually('both containers running', assertContainersRunning, 60_000);
  for (const name of CONTAINERS) {
    const p = await unitProps(`container-${name}.service`, 'Slice', 'Type');
    assert.deepEqual(p, { Slice: 'machine.slice', Type: 'notify' }); // nspawn said the payload runs
  }
  const ps = await host.exec(['agentctl', 'ps']);
  scenario.note(`\n\`agentctl ps\` on the real host:\n${ps.stdout}`);
});

scenario.step('a fly container under the system manager: no kernel tunables, no_new_privs, podman\'s capabilities', async () => {
  await eventually('the fly payload reported', async () => {
    assert.match((await host.exec(['cat', `${FLY_DATA}/write-status`])).stdout, /^\d+\n$/);
  }, 30_000);
  assert.notEqual((await host.exec(['cat', `${FLY_DATA}/write-status`])).stdout.trim(), '0', 'writing vm.swappiness failed');
  assert.match((await host.exec(['cat', `${FLY_DATA}/write-error`])).stdout, /Read-only file system/);
  const status = (await host.exec(['cat', `${FLY_DATA}/status`])).stdout;
  const field = (name: string): string | undefined => new RegExp(`^${name}:\\s*(\\S+)$`, 'm').exec(status)?.[1];
  assert.deepEqual({ NoNewPrivs: field('NoNewPrivs'), CapBnd: field('CapBnd'), CapEff: field('CapEff') },
    { NoNewPrivs: '1', CapBnd: PODMAN_MASK, CapEff: PODMAN_MASK });
  assert.equal((await unitProps(`container-${FLY}.service`, 'ActiveState')).ActiveState, 'active');
});

scenario.step('an OS update offered by an Omaha server on loopback is staged (signed payload, USR-B written, events 13/1 14/1 3/1)', async () => {
  releaseKey = await gpg.newKey('E2E Release Signer <release@e2e.example>');
  await mkdir(join(dir, 'payloads'));
  payloads = await serveDir(scenario, join(dir, 'payloads'));
  omaha = await startOmahaServer(scenario, COREOS_APP_ID);
  omaha.groups.set(UPDATE_GROUP, { policy: { updatesEnabled: true, safeMode: false, maxUpdatesPerPeriod: 10, periodMs: 3600_000 } });
  const image = await offerUpdate(NEW_VERSION);
  await host.writeFile(`/etc/host-agent/trustedkeys/update.d/${releaseKey.fingerprint}`, releaseKey.armored);
  await host.writeFile('/etc/host-agent/cloud-config.yaml', cloudConfig({ containers: true, update: true }));
  // The A/B disk and the bootloader's command line, as a drop-in of the installed unit.
  await host.writeFile('/etc/systemd/system/host-agent.service.d/50-e2e-updates.conf', `[Service]
ExecStart=
ExecStart=/usr/bin/agentd --system --update-disk ${DISK_INSIDE} --boot-cmdline ${CMDLINE_INSIDE} --boot-grace 2 --boot-health-timeout 60
`);
  await host.exec(['systemctl', 'daemon-reload']);
  await host.exec(['systemctl', 'restart', 'host-agent.service']);
  await eventually('agentctl status says running', async () => assert.equal((await statusJson()).state, 'running'), 10_000);
  await eventually('updates enabled in Omaha mode, USR-A booted', async () => {
    const s = await updateStatus();
    assert.deepEqual({ enabled: s.enabled, bootedSlot: s.bootedSlot, server: s.server, group: s.group, protocol: s.protocol },
      { enabled: true, bootedSlot: 'A', server: omaha!.url, group: UPDATE_GROUP, protocol: 'omaha' }, JSON.stringify(s));
    oldVersion = s.currentVersion;
  }, 10_000);
  await host.exec(['agentctl', 'update', 'apply'], { timeoutMs: 120_000 });
  const staged = await updateStatus();
  assert.equal(staged.state, 'UPDATED_NEED_REBOOT', JSON.stringify(staged));
  assert.equal(staged.newVersion, NEW_VERSION);
  await slotCarries('B', NEW_VERSION);
  // Checked from outside, by cgpt: USR-B written and next for one try, USR-A still good.
  assert.deepEqual(await cgptAttributes(disk.path, 'B'), { priority: 2, tries: 1, successful: false });
  assert.deepEqual(await cgptAttributes(disk.path, 'A'), { priority: 1, tries: 0, successful: true });
  assert.equal(await slotHash(disk, 'B', image.length), sha512(image), 'USR-B holds the payload');
  const fetched = payloads.requests.map((r) => r.path);
  for (const f of [`usr-${NEW_VERSION}.img`, `usr-${NEW_VERSION}.img.asc`]) assert.ok(fetched.includes(`/${f}`), `${f} fetched: ${fetched.join(' ')}`);
  assert.equal(omaha.grants.length, 1, 'the server granted the update once');
  assert.deepEqual(await omahaEvents(), ['13/1', '14/1', '3/1']);
  await assertContainersRunning(); // the agent's restart left them alone
});

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

scenario.step('booted into the new slot (bootloader from the GPT attributes), marked good; 3/2 with previousversion reported', async () => {
  assert.equal(await readFile(join(dir, 'boots'), 'utf8'), 'A\nB\n', 'the bootloader booted USR-A, then USR-B');
  assert.match((await host.exec(['cat', CMDLINE_INSIDE])).stdout, new RegExp(`mount\\.usr=PARTUUID=${disk.partUuid.B}`));
  const booted = await updateStatus();
  assert.equal(booted.bootedSlot, 'B', JSON.stringify(booted));
  // agentd has no setting for the health grace (60 s) nor its poll: this waits it out.
  const start = performance.now();
  await eventually('the booted slot marked good', async () => {
    const s = await updateStatus();
    assert.equal(s.boot.status, 'marked-good', JSON.stringify(s.boot));
  }, 150_000);
  scenario.note(`booted USR-B marked good ${((performance.now() - start) / 1000).toFixed(1)} s after the step began (agentd's fixed 60 s grace)`);
  assert.deepEqual(await cgptAttributes(disk.path, 'B'), { priority: 2, tries: 0, successful: true });
  assert.deepEqual(await cgptAttributes(disk.path, 'A'), { priority: 1, tries: 0, successful: true });
  assert.deepEqual(await sgdiskBits(disk.path, 'B'), expectedBits({ priority: 2, tries: 0, successful: true }));
  await assertContainersRunning();
  // The first check of this boot tells the server the update is complete, naming the version it replaced.
  const checked = await updateCheck();
  assert.deepEqual({ state: checked.state, currentVersion: checked.currentVersion, answer: checked.omaha?.status },
    { state: 'IDLE', currentVersion: NEW_VERSION, answer: 'noupdate' }, JSON.stringify(checked));
  assert.deepEqual(await omahaEvents(), ['13/1', '14/1', '3/1', `3/2 previousversion=${oldVersion}`]);
  assert.equal(omaha!.instances.values().next().value?.status, 'complete');
});

// The cheapest real unhealthy boot: the new release breaks a service the cloud-config
// requires (it fails at once when the host runs BAD_VERSION), so after agentd's grace the
// health check fails and the slot is never marked good; the bootloader falls back next boot.
scenario.step('a second Omaha update that breaks a required service: staged into USR-A, its boot degraded, not marked good', async () => {
  await host.writeFile('/etc/host-agent/cloud-config.yaml', cloudConfig({ containers: true, update: true, broken: true }));
  await eventually(`${BROKEN_UNIT} active`, async () => {
    assert.equal((await unitProps(BROKEN_UNIT, 'ActiveState')).ActiveState, 'active');
  });
  await offerUpdate(BAD_VERSION);
  await host.exec(['agentctl', 'update', 'apply'], { timeoutMs: 120_000 });
  const staged = await updateStatus();
  assert.deepEqual({ state: staged.state, newVersion: staged.newVersion }, { state: 'UPDATED_NEED_REBOOT', newVersion: BAD_VERSION }, JSON.stringify(staged));
  await slotCarries('A', BAD_VERSION);
  assert.deepEqual(await cgptAttributes(disk.path, 'A'), { priority: 3, tries: 1, successful: false });
  assert.deepEqual(await omahaEvents(), ['13/1', '14/1', '3/1', `3/2 previousversion=${oldVersion}`, '13/1', '14/1', '3/1']);

  await host.reboot(60_000, 'degraded');
  assert.equal(await readFile(join(dir, 'boots'), 'utf8'), 'A\nB\nA\n', 'the bootloader tried USR-A');
  const failed = await host.exec(['systemctl', '--failed', '--no-legend', '--plain']);
  assert.deepEqual(failed.stdout.trim().split('\n').map((l) => l.split(' ')[0]), [BROKEN_UNIT], 'the one failed unit');
  await eventually('the health check failed', async () => {
    const s = await updateStatus();
    assert.deepEqual({ bootedSlot: s.bootedSlot, currentVersion: s.currentVersion, boot: s.boot.status },
      { bootedSlot: 'A', currentVersion: BAD_VERSION, boot: 'health-failed' }, JSON.stringify(s));
    assert.ok(s.boot.detail?.includes(BROKEN_UNIT), `the health check names ${BROKEN_UNIT}: ${s.boot.detail}`);
  }, 30_000);
  assert.deepEqual(await cgptAttributes(disk.path, 'A'), { priority: 3, tries: 0, successful: false });
});

scenario.step('the next boot falls back to USR-B: the server receives 3/0 errorcode 44, the failed version is not taken again', async () => {
  await host.reboot();
  assert.equal(await readFile(join(dir, 'boots'), 'utf8'), 'A\nB\nA\nB\n', 'the bootloader fell back to USR-B');
  assert.match((await host.exec(['cat', CMDLINE_INSIDE])).stdout, new RegExp(`mount\\.usr=PARTUUID=${disk.partUuid.B}`));
  await eventually('USR-B runs, good before', async () => {
    const s = await updateStatus();
    assert.deepEqual({ bootedSlot: s.bootedSlot, currentVersion: s.currentVersion, boot: s.boot.status },
      { bootedSlot: 'B', currentVersion: NEW_VERSION, boot: 'already-good' }, JSON.stringify(s));
  }, 30_000);
  await assertHelloRunning();
  await assertContainersRunning();
  const checked = await updateCheck();
  assert.deepEqual({ state: checked.state, answer: checked.omaha?.status, offered: checked.omaha?.version }, { state: 'IDLE', answer: 'ok', offered: BAD_VERSION },
    `the server offers ${BAD_VERSION} again, but it failed here: not taken (${JSON.stringify(checked)})`);
  assert.deepEqual((await omahaEvents()).slice(4), ['13/1', '14/1', '3/1', '3/0 errorcode=44']);
  assert.deepEqual(await cgptAttributes(disk.path, 'B'), { priority: 2, tries: 0, successful: true });
  assert.deepEqual(await cgptAttributes(disk.path, 'A'), { priority: 3, tries: 0, successful: false }, 'USR-A not written again');
});

// Broke on the real host, not in the sandbox: agentd wrote container units without
// [Install] and never enabled them, so after a boot they ran only once the agent had
// started. Fixed: WantedBy=machines.target, enabled through systemd when written.
scenario.step('containers came back at boot from their enabled units, before and without the agent', async () => {
  await host.exec(['systemctl', 'mask', 'host-agent.service']);
  try {
    await host.reboot();
    const agent = await unitProps('host-agent.service', 'ActiveState', 'LoadState');
    assert.deepEqual(agent, { ActiveState: 'inactive', LoadState: 'masked' }, 'the agent did not run this boot');
    const units = await Promise.all(CONTAINERS.map(async (name) => {
      const p = await unitProps(`container-${name}.service`, 'ActiveState', 'UnitFileState');
      return `container-${name}.service ${p.ActiveState} ${p.UnitFileState}`;
    }));
    assert.deepEqual(units, CONTAINERS.map((name) => `container-${name}.service active enabled`));
  } finally {
    await host.exec(['systemctl', 'unmask', 'host-agent.service']);
    await host.exec(['systemctl', 'start', 'host-agent.service']);
    await eventually('the agent runs the containers again', assertContainersRunning, 60_000);
  }
});

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
