/**
 * Containers on a sandbox host with agentd running from dist/, each against a baseline in
 * the same run:
 *   (a) start latency: `agentctl start` of a stopped container until its payload runs
 *       (the start job of a Type=notify unit ends at nspawn's READY), vs a bare
 *       `systemd-run … systemd-nspawn` of the same tree and command line; target 1.2×.
 *   (b) scale: 200 declared containers reconciled from nothing to all active, vs
 *       `systemctl start` of the same 200 unit files written directly; target 1.5×;
 *       agentd's RSS with 200 containers under 80 MB; its CPU while idle over 60 s
 *       (BENCH_IDLE_SECONDS) near zero.
 * agentd runs with the NODE_OPTIONS of units/host-agent.service. Neither it nor the
 * measured agentctl gets NODE_EXTRA_CA_CERTS, which a sandbox may set and a host does not
 * (node reads the whole CA file at every start); agentctl is also timed with it, and
 * node's own start is timed too, so the floor of a node agentctl is in the table.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AGENT_BUS_NAME, AGENT_INTERFACE, AGENT_OBJECT_PATH, type ContainerStatus } from '../agent/api/agent1.js';
import { layerDirOf } from '../agent/host/images/store.js';
import { ImageService } from '../agent/daemon/image-service.js';
import { transientProperties } from '../agent/daemon/container-run.js';
import { callMethod } from '../agent/host/bus/lean-client.js';
import { readHostFacts } from '../agent/host/containers/host-facts.js';
import { ContainerUnits } from '../agent/host/containers/units.js';
import { SystemdManager } from '../agent/host/systemd/manager.js';
import { UnitFileStore } from '../agent/host/systemd/unit-files.js';
import { goodImage, writeAci } from '../test/lib/aci.js';
import { waitForAgent } from '../test/lib/agent.js';
import { REPO } from '../test/lib/repo.js';
import { median, report, type Sample } from './lib/measure.js';

const IMAGE = 'example.com/busybox';
const START_RUNS = 10;
const SCALE = 200;
const IDLE_SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 60);
const AGENTD = join(REPO, 'dist/agent/main.js');
const AGENTCTL = join(REPO, 'dist/agent/cli/main.js');

function declaration(name: string): string {
  // On the host's network: this bench measures the unit against bare nspawn; the cost of
  // a container network is bench/network.bench.ts's.
  return `    - name: ${name}\n      image: ${IMAGE}:1.0.0\n      exec: [/bin/sleep, "600"]\n      network: host\n`;
}

function cloudConfig(names: string[]): string {
  return `#cloud-config\nhost-agent:\n  containers:\n${names.map(declaration).join('')}`;
}

const ms = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1e6;

function timed(argv: string[], env: NodeJS.ProcessEnv): number {
  const start = process.hrtime.bigint();
  execFileSync(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'ignore', 'pipe'] });
  return ms(start);
}

async function waitAllActive(systemd: SystemdManager, pattern: string, count: number, timeoutMs = 300_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const units = await systemd.listUnits([pattern]);
    if (units.filter((u) => u.activeState === 'active').length >= count) return;
    if (Date.now() > deadline) throw new Error(`only ${units.filter((u) => u.activeState === 'active').length} of ${count} ${pattern} active`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function cpuTicks(pid: number): number {
  const fields = execFileSync('cat', [`/proc/${pid}/stat`], { encoding: 'utf8' }).split(') ')[1]!.split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** The environment a host gives agentd and agentctl: the sandbox's, without NODE_EXTRA_CA_CERTS. */
function hostEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { NODE_EXTRA_CA_CERTS: _sandboxOnly, ...rest } = env;
  return rest;
}

/** The NODE_OPTIONS agentd's unit sets (empty when it sets none). */
async function unitNodeOptions(): Promise<string> {
  const unit = await readFile(join(REPO, 'units/host-agent.service'), 'utf8');
  return /^Environment=NODE_OPTIONS=(.*)$/m.exec(unit)?.[1]?.trim() ?? '';
}

async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)![1]) / 1024;
}

export async function run(): Promise<boolean> {
  const dir = await mkdtemp(join(tmpdir(), 'host-agent-bench-containers-'));
  const sandbox = join(REPO, 'scripts/sandbox');
  const out = execFileSync(sandbox, ['up', dir], { encoding: 'utf8' });
  const env: NodeJS.ProcessEnv = { ...process.env, HOST_AGENT_BUS: 'session' };
  for (const m of out.matchAll(/^export (\w+)='([^']*)'$/gm)) env[m[1]!] = m[2]!;
  const hostEnv = hostEnvironment(env);
  const nodeOptions = await unitNodeOptions();
  const stateDir = join(dir, 'state');
  const configFile = join(dir, 'cloud-config.yaml');
  const writeConfig = async (text: string): Promise<void> => {
    await writeFile(`${configFile}.new`, text);
    await rename(`${configFile}.new`, configFile);
  };
  let agent: ReturnType<typeof spawn> | undefined;
  let systemd: SystemdManager | undefined;
  try {
    // The image, stored without a signature (verification is not what is measured here).
    const aci = await writeAci(join(dir, 'busybox.aci'), goodImage(IMAGE, { version: '1.0.0' }, [{ name: 'rootfs/bin/sleep', type: 'symlink', linkname: 'busybox' }]));
    const images = await ImageService.open({ stateDir, keystore: { adminDir: join(dir, 'trust'), systemDir: join(dir, 'trust-system') } });
    const stored = (await images.fetch({ image: aci, insecureOptions: ['image'] })).image;
    const record = (await images.get(stored.id)).record;
    await images.close(); // agentd takes the store
    await mkdir(join(dir, 'config.d'), { recursive: true });
    await writeConfig(cloudConfig(['lat']));
    systemd = await SystemdManager.connect('session', env);
    const unitFiles = new UnitFileStore({ persistent: join(env.XDG_CONFIG_HOME!, 'systemd/user'), runtime: join(env.XDG_RUNTIME_DIR!, 'systemd/user') });
    const units = new ContainerUnits({
      stateDir, unitFiles, output: 'file', facts: await readHostFacts({ bus: 'session' }),
      images: { layerDir: (layerId) => layerDirOf(stateDir, layerId) },
    });

    agent = spawn(process.execPath, [AGENTD, '--user', `--config=${configFile}`, `--config-dir=${dir}/config.d`, `--system-config-dir=${dir}/none.d`,
      `--state-dir=${stateDir}`, `--host-root=${dir}/root`, `--trust-dir=${dir}/trust`, `--system-trust-dir=${dir}/trust-system`],
    { env: { ...hostEnv, NODE_OPTIONS: nodeOptions }, stdio: 'ignore' });
    console.log(`\nagentd with NODE_OPTIONS=${nodeOptions} (units/host-agent.service); agentd and agentctl without NODE_EXTRA_CA_CERTS`);
    await waitForAgent(env);
    await waitAllActive(systemd, 'container-lat.service', 1, 60_000);
    const rssOne = await rssMb(agent.pid!);

    // (a) start latency, alternating, each from a stopped container.
    const spec = { name: 'lat', image: record, environment: {}, volumes: [], ports: [], restart: 'no' as const, isolation: 'nspawn' as const, exec: ['/bin/sleep', '600'] };
    const execStart = (await transientProperties(spec, units.hostFor(spec))).find(([k]) => k === 'ExecStart')![2] as Array<[string, string[], boolean]>;
    const argv = execStart[0]![1];
    const bare: Sample = { name: 'systemd-run … systemd-nspawn', runs: [] };
    const ctl: Sample = { name: 'agentctl start', runs: [] };
    const caFile = process.env.NODE_EXTRA_CA_CERTS;
    const ctlCa: Sample = { name: 'agentctl +NODE_EXTRA_CA_CERTS', runs: [] };
    const api: Sample = { name: 'StartContainer (D-Bus call)', runs: [] };
    const nodeStart: Sample = { name: 'node -e 0 (node\'s start)', runs: [] };
    const startCall = () => callMethod({ bus: 'session', env, destination: AGENT_BUS_NAME, path: AGENT_OBJECT_PATH, interface: AGENT_INTERFACE, member: 'StartContainer', signature: 's', body: ['lat'] });
    for (let i = 0; i <= START_RUNS; i++) {
      execFileSync(process.execPath, [AGENTCTL, 'stop', 'lat'], { env: hostEnv });
      const b = timed(['systemd-run', '--user', '--quiet', '--unit=bare-lat', '--slice=machine.slice', '-p', 'Type=notify', '-p', 'Delegate=yes', '-p', 'KillMode=control-group', '--', ...argv], env);
      execFileSync('systemctl', ['--user', 'stop', 'bare-lat.service'], { env });
      execFileSync('systemctl', ['--user', 'reset-failed', 'bare-lat.service'], { env, stdio: 'ignore' });
      const c = timed([process.execPath, AGENTCTL, 'start', 'lat'], hostEnv);
      execFileSync(process.execPath, [AGENTCTL, 'stop', 'lat'], { env: hostEnv });
      if (caFile !== undefined) {
        const withCa = timed([process.execPath, AGENTCTL, 'start', 'lat'], env);
        execFileSync(process.execPath, [AGENTCTL, 'stop', 'lat'], { env: hostEnv });
        if (i > 0) ctlCa.runs.push(withCa);
      }
      const start = process.hrtime.bigint();
      await startCall();
      const a = ms(start);
      const n = timed([process.execPath, '-e', '0'], hostEnv);
      if (i > 0) { bare.runs.push(b); ctl.runs.push(c); api.runs.push(a); nodeStart.runs.push(n); } // the first round warms up
    }
    const latencyOk = report(`(a) container start latency (median of ${START_RUNS})`, bare,
      [ctl, ...(caFile !== undefined ? [ctlCa] : []), api, nodeStart], { sample: 'agentctl start', maxRatio: 1.2 });
    const floor = median(nodeStart.runs) + median(api.runs);
    console.log(`floor of a node agentctl (node's start + the call): ${floor.toFixed(1)} ms, ${(floor / median(bare.runs)).toFixed(2)}×; `
      + `agentctl's own part: ${(median(ctl.runs) - floor).toFixed(1)} ms`);

    // (b) scale: the baseline writes and starts the same units itself (other names, fresh layers).
    const names = (prefix: string): string[] => Array.from({ length: SCALE }, (_, i) => `${prefix}${String(i).padStart(3, '0')}`);
    for (const name of names('b')) {
      const s = { ...spec, name };
      await units.install(name, await units.render(s), s.image.layers);
    }
    await systemd.daemonReload();
    let start = process.hrtime.bigint();
    execFileSync('systemctl', ['--user', 'start', ...names('b').map((n) => `container-${n}.service`)], { env });
    await waitAllActive(systemd, 'container-b*.service', SCALE);
    const direct: Sample = { name: `systemctl start (${SCALE} unit files)`, runs: [ms(start)] };
    execFileSync('systemctl', ['--user', 'stop', ...names('b').map((n) => `container-${n}.service`)], { env });
    for (const name of names('b')) await units.uninstall(name);
    await systemd.daemonReload();

    start = process.hrtime.bigint();
    await writeConfig(cloudConfig(['lat', ...names('s')]));
    await callMethod({ bus: 'session', env, destination: AGENT_BUS_NAME, path: AGENT_OBJECT_PATH, interface: AGENT_INTERFACE, member: 'ApplyConfig', timeoutMs: 120_000 });
    await waitAllActive(systemd, 'container-s*.service', SCALE);
    const reconciled: Sample = { name: `agentd reconcile (${SCALE} declared)`, runs: [ms(start)] };
    const scaleOk = report(`(b) ${SCALE} containers from nothing to all active`, direct, [reconciled], { sample: reconciled.name, maxRatio: 1.5 });

    // Let the status settle (every container listed as running), then measure.
    for (let i = 0; i < 200; i++) {
      const [json] = await callMethod({ bus: 'session', env, destination: AGENT_BUS_NAME, path: AGENT_OBJECT_PATH, interface: AGENT_INTERFACE, member: 'ListContainers' });
      if ((JSON.parse(json as string) as ContainerStatus[]).filter((c) => c.state === 'running').length >= SCALE + 1) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    // The agent goes on after the last container runs: the reconcile's second pass, and
    // the apply the config watcher queued for the same write (with its own reconcile). A
    // start of the running `lat` waits for what the agent's queue holds; once one returns
    // at once (in under 50 ms), the queue was empty: idle is measured from there.
    start = process.hrtime.bigint();
    for (let call = process.hrtime.bigint(); ; call = process.hrtime.bigint()) {
      await startCall();
      if (ms(call) < 50) break;
    }
    const tail = ms(start);
    const rss = await rssMb(agent.pid!);
    const ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    const before = cpuTicks(agent.pid!);
    await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
    const cpuSeconds = (cpuTicks(agent.pid!) - before) / ticksPerSecond;
    const settled = await rssMb(agent.pid!);
    const rssOk = settled < 80;
    const cpuPercent = (100 * cpuSeconds) / IDLE_SECONDS;
    const idleOk = cpuPercent < 0.5;
    console.log(`agentd finished reconciling ${tail.toFixed(0)} ms after all containers ran`);
    console.log(`agentd RSS with ${SCALE + 1} containers: ${settled.toFixed(1)} MB after ${IDLE_SECONDS} s idle (${rss.toFixed(1)} MB when the reconcile ended; with 1: ${rssOne.toFixed(1)} MB), target < 80 MB: ${rssOk ? 'MET' : 'MISSED'}`);
    console.log(`agentd CPU while idle over ${IDLE_SECONDS} s: ${cpuSeconds.toFixed(2)} s (${cpuPercent.toFixed(2)} %), target < 0.5 %: ${idleOk ? 'MET' : 'MISSED'}`);
    console.log(`(per container: direct ${(median(direct.runs) / SCALE).toFixed(1)} ms, agentd ${(median(reconciled.runs) / SCALE).toFixed(1)} ms)`);
    return latencyOk && scaleOk && rssOk && idleOk;
  } finally {
    agent?.kill('SIGTERM');
    systemd?.close();
    execFileSync(sandbox, ['down', dir]);
    await rm(dir, { recursive: true, force: true });
  }
}
