/**
 * OCI images end to end in agentd: agentd as a unit of a sandbox systemd, a real
 * docker-registry on loopback, images signed with `skopeo copy --sign-by` (gpg) into a
 * lookaside directory that registries.d names, a policy.json requiring that key
 * (agentd --policy, --registries-d). A container declared with `image: docker://…:stable`
 * runs on the overlay of the image's layers; `agentctl image list` and `image inspect` show
 * the OCI record; agentd killed with SIGKILL comes back and adopts the container (same PID);
 * a new digest pushed under the tag, whose command fails, is fetched, run in the window and
 * rolled back to the image that worked.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ContainerStatus, ImageDetail, ImageSummary, ImageUpdatesDocument } from '../../../agent/api/agent1.js';
import { SystemdManager } from '../../../agent/host/systemd/manager.js';
import { agentctl, agentdUnit } from '../../lib/agent.js';
import { eventually } from '../../lib/eventually.js';
import { makeGpg, type GpgKey } from '../../lib/gpg.js';
import { busyboxLayer, writeOciLayout } from '../../lib/oci-image.js';
import { startRegistry, type Registry } from '../../lib/registry.js';
import { startSandbox, type Sandbox } from '../../lib/sandbox.js';

const run = promisify(execFile);
const AGENT_UNIT = 'host-agent.service';
const UNIT = 'container-web.service';

let sbx: Sandbox;
let systemd: SystemdManager;
let registry: Registry;
let key: GpgKey;
let gpgEnv: NodeJS.ProcessEnv;
let regD: string;
let configFile: string;
const ids: Record<string, string> = {};
const cleanups: Array<() => unknown> = [];
const suite = { after: (fn: () => unknown) => cleanups.push(fn) };

const hhmm = (d: Date): string => `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;

/** Builds an image whose command is `cmd` (a layer of its own marks the version) and pushes it, signed, as team/web:stable. Its Entrypoint names `sh` without a path, as many images do: found on the image's PATH. */
async function publish(version: string, cmd: string): Promise<void> {
  const layout = join(sbx.dir, 'layout');
  await writeOciLayout(layout, version, {
    layers: [
      { entries: [...busyboxLayer(), { name: 'bin/sleep', type: 'symlink', linkname: 'busybox' }, { name: 'tmp', type: 'directory', mode: 0o1777 }] },
      { entries: [{ name: 'etc', type: 'directory', mode: 0o755 }, { name: 'etc/release', content: `${version}\n` }] },
    ],
    config: { Entrypoint: ['sh', '-c'], Cmd: [cmd], Env: ['PATH=/bin', `RELEASE=${version}`], WorkingDir: '/' },
  });
  await run('skopeo', [
    'copy', '--quiet', '--insecure-policy', '--registries.d', regD, '--dest-tls-verify=false', '--sign-by', key.fingerprint,
    `oci:${layout}:${version}`, `docker://${registry.host}/team/web:stable`,
  ], { env: gpgEnv, timeout: 120_000 });
}

async function writeConfig(): Promise<void> {
  const start = new Date(Date.now() - 3_600_000);
  await writeFile(`${configFile}.new`, `#cloud-config
host-agent:
  containers:
    - name: web
      image: docker://${registry.host}/team/web:stable
      auto-update: true
      network: host
  images:
    check: "0 0 1 1 *"
    window: {start: "${hhmm(start)}", length: 3h}
`);
  await rename(`${configFile}.new`, configFile);
}

async function ctl(args: string[]): Promise<string> {
  const r = await agentctl(args, { env: sbx.env });
  assert.equal(r.code, 0, `agentctl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const web = async (): Promise<ContainerStatus | undefined> => (JSON.parse(await ctl(['ps', '--json'])) as ContainerStatus[]).find((c) => c.name === 'web');

before(async () => {
  sbx = await startSandbox(suite, { otherUsers: true });
  const gpg = await makeGpg(suite);
  gpgEnv = { ...process.env, GNUPGHOME: gpg.home };
  key = await gpg.newKey('Web Publisher <web@localhost>');
  registry = await startRegistry(suite);
  const look = join(sbx.dir, 'lookaside');
  await mkdir(look);
  regD = join(sbx.dir, 'registries.d');
  await mkdir(regD);
  await writeFile(join(regD, 'default.yaml'), `default-docker:\n  lookaside: file://${look}\n  lookaside-staging: file://${look}\n`);
  const keyFile = join(sbx.dir, 'web.asc');
  await writeFile(keyFile, key.armored);
  const policyFile = join(sbx.dir, 'policy.json');
  await writeFile(policyFile, JSON.stringify({
    default: [{ type: 'reject' }],
    transports: { docker: { [`${registry.host}/team`]: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: keyFile }] } },
  }));
  await publish('v1', 'echo started v1; exec sleep 600');

  const stateDir = join(sbx.dir, 'state');
  configFile = join(sbx.dir, 'cloud-config.yaml');
  await writeConfig();
  systemd = await SystemdManager.connect('session', sbx.env);
  suite.after(() => systemd.close());
  await writeFile(join(sbx.unitDir, AGENT_UNIT), `${agentdUnit([
    `--config ${configFile}`, `--config-dir ${sbx.dir}/config.d`, `--system-config-dir ${sbx.dir}/lib-config.d`,
    `--state-dir ${stateDir}`, `--host-root ${sbx.dir}/root`, `--trust-dir ${stateDir}/trust`, `--system-trust-dir ${stateDir}/trust-system`,
    `--policy ${policyFile}`, `--registries-d ${regD}`,
  ])}Environment=HOST_AGENT_IMAGE_SETTLE=3s
StandardOutput=append:${join(sbx.dir, 'agentd.log')}
StandardError=append:${join(sbx.dir, 'agentd.log')}
`);
  await systemd.daemonReload();
  await systemd.start(AGENT_UNIT);
});

after(async () => {
  for (const fn of cleanups.reverse()) await fn();
});

test('a container declared with image: docker://… is fetched (signature verified) and runs; image list and inspect show the OCI record', async () => {
  const c = await eventually(web, (s) => s?.state === 'running', 'web to run v1', 60_000);
  ids.v1 = c!.imageId!;
  assert.match(ids.v1, /^sha256-[0-9a-f]{64}$/);
  const list = JSON.parse(await ctl(['image', 'list', '--json'])) as ImageSummary[];
  const image = list.find((i) => i.id === ids.v1)!;
  assert.equal(image.format, 'oci');
  assert.equal(image.name, `${registry.host}/team/web`);
  assert.equal(image.signer, key.fingerprint);
  const text = await ctl(['image', 'list']);
  assert.match(text, new RegExp(`oci +${registry.host}/team/web +stable .* docker://${registry.host}/team/web:stable +sha256:${ids.v1.slice(7)}`));
  const record = JSON.parse(await ctl(['image', 'inspect', ids.v1])) as ImageDetail['record'];
  assert.equal(record.reference, `docker://${registry.host}/team/web:stable`);
  assert.deepEqual(record.run?.exec, ['sh', '-c', 'echo started v1; exec sleep 600'], 'the record keeps the bare name; the unit runs /bin/sh, found on PATH');
  assert.equal(record.layers.length, 2);
  // agentctl fetch through agentd: the stored image, by its digest.
  assert.equal((await ctl(['fetch', `docker://${registry.host}/team/web:stable`])).trim(), ids.v1);
  const missing = await agentctl(['fetch', `docker://${registry.host}/other/web:1`], { env: sbx.env });
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, new RegExp(`the registry ${registry.host} \\(repository other/web\\) has no manifest 1.*skopeo list-tags`));
});

test('kill -9 of agentd: the restarted agent adopts the running container (same PID)', async () => {
  const pid = (await systemd.unitStatus(UNIT)).mainPid;
  assert.ok(pid > 0);
  const agent = await systemd.unitStatus(AGENT_UNIT);
  process.kill(agent.mainPid, 'SIGKILL');
  await eventually(() => systemd.unitStatus(AGENT_UNIT), (s) => s.activeState === 'active' && s.mainPid !== agent.mainPid, 'agentd to restart', 30_000);
  const c = await eventually(web, (s) => s?.state === 'running', 'web after the restart', 30_000);
  assert.equal(c!.imageId, ids.v1);
  assert.equal((await systemd.unitStatus(UNIT)).mainPid, pid, 'not restarted');
});

test('a new digest under the tag whose command fails is fetched, tried in the window and rolled back', async () => {
  await publish('v2', 'echo boom: v2 is broken; exit 3');
  const r = await agentctl(['update', 'containers', '--now', '--json'], { env: sbx.env });
  assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
  const u = (JSON.parse(r.stdout) as ImageUpdatesDocument).containers[0]!;
  assert.equal(u.last?.result, 'rolled back', JSON.stringify(u));
  assert.equal(u.current?.id, ids.v1);
  assert.equal(u.failed.length, 1);
  assert.notEqual(u.failed[0]!.id, ids.v1);
  const c = await eventually(web, (s) => s?.state === 'running' && s.imageId === ids.v1, 'web back on v1', 30_000);
  assert.equal(c!.imageId, ids.v1);
});

test('agentctl run docker://… runs the stored OCI image once with its Env and WorkingDir, or a command given', async () => {
  const ref = `docker://${registry.host}/team/web:stable`;
  const env = await agentctl(['run', '--name', 'once', '--network', 'host', ref, '--', 'sh', '-c', 'echo "release=$RELEASE cwd=$(pwd)"'], { env: sbx.env });
  assert.equal(env.code, 0, env.stderr);
  assert.match(env.stdout, /release=v\d cwd=\//);
  const missing = await agentctl(['run', '--name', 'nope', `docker://${registry.host}/team/none:1`], { env: sbx.env });
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /team\/none/);
});
