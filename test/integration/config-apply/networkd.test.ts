/**
 * systemd-networkd units in coreos.units (`*.network`, `*.netdev`, `*.link`), applied through a
 * real (sandboxed) systemd manager: their files and drop-ins are written under the host root
 * to /etc/systemd/network (`runtime: true`: /run/systemd/network), and systemd-networkd.service
 * is restarted through D-Bus; a second apply changes nothing, and an edit restarts it again.
 * The sandbox has no networkd: a stand-in unit of that name runs in the sandbox manager.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { HostConfig } from '../../../agent/core/config/types.js';
import { validateText } from '../../../agent/core/config/validate.js';
import { planHostConfig, type Plan } from '../../../agent/core/plan/config-plan.js';
import { describeStep } from '../../../agent/core/plan/steps.js';
import { executeSteps } from '../../../agent/host/apply/execute.js';
import { observeHost, type HostContext } from '../../../agent/host/apply/observe.js';
import { fileHostname } from '../../../agent/host/hostname.js';
import { SystemdManager } from '../../../agent/host/systemd/manager.js';
import { UnitFileStore } from '../../../agent/host/systemd/unit-files.js';
import { startSandbox, type Sandbox } from '../../lib/sandbox.js';

let sbx: Sandbox;
let systemd: SystemdManager;
let ctx: HostContext;
const cleanups: Array<() => unknown> = [];

const NETWORKD = 'systemd-networkd.service';

const CONFIG = (address: string): string => `#cloud-config
coreos:
  units:
    - name: 00-eth0.network
      runtime: false
      content: |
        [Match]
        Name=eth0

        [Network]
        Address=${address}
      drop-ins:
        - name: 10-dns.conf
          content: |
            [Network]
            DNS=192.0.2.53
    - name: 10-br0.netdev
      runtime: true
      content: |
        [NetDev]
        Name=br0
        Kind=bridge
`;

function config(yaml: string): HostConfig {
  const r = validateText(yaml, { gunzip: (b) => gunzipSync(b) });
  assert.deepEqual(r.entries, []);
  assert.ok(r.config);
  return r.config;
}

async function plan(desired: HostConfig, previous?: HostConfig): Promise<Plan> {
  return planHostConfig(desired, previous, await observeHost(desired, previous, ctx));
}

async function apply(p: Plan): Promise<void> {
  const results = await executeSteps(p.steps, ctx);
  assert.deepEqual(results.filter((r) => r.error), []);
}

const networkdPid = async (): Promise<number> => (await systemd.unitStatus(NETWORKD)).mainPid;

before(async () => {
  sbx = await startSandbox({ after: (fn) => cleanups.push(fn) });
  systemd = await SystemdManager.connect('session', sbx.env);
  const root = join(sbx.dir, 'root');
  await mkdir(join(root, 'etc'), { recursive: true });
  // The stand-in networkd: a unit of that name in the sandbox manager.
  await writeFile(join(sbx.unitDir, NETWORKD), '[Service]\nExecStart=/bin/sleep 600\n');
  await systemd.daemonReload();
  await systemd.runJob('start', NETWORKD);
  ctx = {
    systemd,
    unitFiles: new UnitFileStore({ persistent: sbx.unitDir, runtime: join(sbx.dir, 'runtime-units') }),
    hostname: fileHostname(root),
    root,
    sshUser: 'core',
  };
});

after(async () => {
  systemd?.close();
  for (const fn of cleanups.reverse()) await fn();
});

test('networkd files are written under the host root and systemd-networkd is restarted through systemd', async () => {
  const before = await networkdPid();
  assert.ok(before > 0);
  const desired = config(CONFIG('192.0.2.10/24'));
  const p = await plan(desired);
  assert.deepEqual(p.steps.map(describeStep), [
    'write /etc/systemd/network/00-eth0.network (51 bytes, mode 0644)',
    'write /etc/systemd/network/00-eth0.network.d/10-dns.conf (25 bytes, mode 0644)',
    'write /run/systemd/network/10-br0.netdev (30 bytes, mode 0644)',
    `restart ${NETWORKD} (its network files changed)`,
  ]);
  await apply(p);
  const network = join(ctx.root, 'etc/systemd/network/00-eth0.network');
  assert.equal(await readFile(network, 'utf8'), '[Match]\nName=eth0\n\n[Network]\nAddress=192.0.2.10/24\n');
  assert.equal((await stat(network)).mode & 0o777, 0o644);
  assert.equal(await readFile(join(ctx.root, 'etc/systemd/network/00-eth0.network.d/10-dns.conf'), 'utf8'), '[Network]\nDNS=192.0.2.53\n');
  assert.equal(await readFile(join(ctx.root, 'run/systemd/network/10-br0.netdev'), 'utf8'), '[NetDev]\nName=br0\nKind=bridge\n');
  const after = await networkdPid();
  assert.ok(after > 0 && after !== before, `networkd restarted (pid ${before} → ${after})`);
  assert.equal((await systemd.unitStatus(NETWORKD)).activeState, 'active');
  // Nothing was written as a systemd unit.
  assert.equal(await ctx.unitFiles.read('00-eth0.network'), undefined);
});

test('a second apply does nothing; an edit rewrites the file and restarts networkd again', async () => {
  const previous = config(CONFIG('192.0.2.10/24'));
  assert.deepEqual((await plan(previous, previous)).steps, []);
  const before = await networkdPid();
  const edited = config(CONFIG('192.0.2.11/24'));
  const p = await plan(edited, previous);
  assert.deepEqual(p.steps.map(describeStep), [
    'write /etc/systemd/network/00-eth0.network (51 bytes, mode 0644)',
    `restart ${NETWORKD} (its network files changed)`,
  ]);
  await apply(p);
  assert.match(await readFile(join(ctx.root, 'etc/systemd/network/00-eth0.network'), 'utf8'), /Address=192\.0\.2\.11\/24/);
  const after = await networkdPid();
  assert.ok(after > 0 && after !== before, 'networkd restarted after the edit');
});

test('enable and command of a networkd unit do not apply: a plan note says so, no job is run for it', async () => {
  const desired = config(`#cloud-config
coreos:
  units:
    - name: 00-eth0.network
      enable: true
      command: start
      content: |
        [Match]
        Name=eth0

        [Network]
        Address=192.0.2.11/24
`);
  const p = await plan(desired);
  assert.deepEqual(p.steps, []);
  assert.deepEqual(p.notes, [`00-eth0.network is a systemd-networkd file: enable, command does not apply to it (${NETWORKD} is restarted when it changes)`]);
});
