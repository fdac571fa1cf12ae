/**
 * The world of the agent-level container tests: a sandbox systemd, a busybox ACI built
 * and signed here with real gpg, its key trusted for `example.com/busybox`, the image
 * fetched (verified) into agentd's store, and agentd itself as a unit of the sandbox
 * manager, reading a cloud-config the test rewrites.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ContainerStatus } from '../../../agent/api/agent1.js';
import { ImageService } from '../../../agent/daemon/image-service.js';
import { SystemdManager } from '../../../agent/host/systemd/manager.js';
import { Keystore } from '../../../agent/host/trust/keystore.js';
import { goodImage, writeAci, type AciEntry } from '../../lib/aci.js';
import { agentctl, agentdUnit } from '../../lib/agent.js';
import { makeGpg } from '../../lib/gpg.js';
import { startSandbox, type Sandbox, type SandboxOptions } from '../../lib/sandbox.js';
import { eventually } from '../../lib/eventually.js';
import { removeBridges, testNetworkNames } from '../../lib/cni-net.js';

interface HasAfter {
  after(fn: () => unknown): void;
}

export const IMAGE = 'example.com/busybox';
export const AGENT_UNIT = 'host-agent.service';
const APPLETS = ['sleep', 'false', 'true', 'dd', 'head', 'id', 'mkdir', 'rm', 'tr'];

export interface AgentWorld {
  sbx: Sandbox;
  /** The bridges and subnets of the test's own; the agent's default network is the first. */
  network: { bridges: string[]; subnets: string[] };
  systemd: SystemdManager;
  stateDir: string;
  /** A directory for volumes. */
  scratch: string;
  configFile: string;
  writeConfig(text: string): Promise<void>;
  containers(): Promise<ContainerStatus[]>;
  container(name: string): Promise<ContainerStatus | undefined>;
  /**
   * Builds a busybox image named `name` (default IMAGE) with `labels` and `extra` entries,
   * signs it with the trusted key and fetches it through agentd; resolves with its ID.
   */
  importImage(labels: Record<string, string>, extra?: AciEntry[], name?: string): Promise<string>;
  /** Polls `probe` until `ok`, failing with the last value after `timeoutMs`. */
  eventually<T>(probe: () => Promise<T>, ok: (v: T) => boolean, what: string, timeoutMs?: number): Promise<T>;
}

/** Builds, signs, trusts and stores the busybox image; starts agentd on `config`. */
export async function makeAgentWorld(t: HasAfter, config: (w: { scratch: string }) => string, opts: SandboxOptions = {}): Promise<AgentWorld> {
  // The default network on a bridge and subnet of this world's own, removed by name after
  // the sandbox (registered first: the worlds' users run cleanups last-in first-out).
  const network = testNetworkNames();
  t.after(() => removeBridges(network.bridges));
  const agentEnv = { HOST_AGENT_BRIDGE: network.bridges[0]!, HOST_AGENT_SUBNET: network.subnets[0]! };
  const sbx = await startSandbox(t, opts);
  const stateDir = join(sbx.dir, 'state');
  const scratch = join(sbx.dir, 'scratch');
  await mkdir(scratch, { recursive: true });
  const gpg = await makeGpg(t);
  const key = await gpg.newKey('Busybox Publisher <busybox@example.com>');
  const applets = APPLETS.map((a) => ({ name: `rootfs/bin/${a}`, type: 'symlink' as const, linkname: 'busybox' }));
  const aci = await writeAci(join(sbx.dir, 'busybox-1.0.0.aci'), goodImage(IMAGE, { version: '1.0.0' }, applets));
  await gpg.sign(aci, key);
  let imports = 0;
  const importImage = async (labels: Record<string, string>, extra: AciEntry[] = [], name = IMAGE): Promise<string> => {
    const file = await writeAci(join(sbx.dir, `import-${++imports}.aci`), goodImage(name, labels, [...applets, ...extra]));
    await gpg.sign(file, key);
    const r = await agentctl(['fetch', file], { env: sbx.env });
    if (r.code !== 0) throw new Error(`agentctl fetch: ${r.stderr}`);
    return r.stdout.trim();
  };
  const keystore = { adminDir: join(stateDir, 'trust'), systemDir: join(stateDir, 'trust-system') };
  await new Keystore(keystore).add(key.armored, { prefix: IMAGE });
  const images = await ImageService.open({ stateDir, keystore });
  await images.fetch({ image: aci, insecureOptions: [] });
  await images.close();

  const configFile = join(sbx.dir, 'cloud-config.yaml');
  const writeConfig = async (text: string): Promise<void> => {
    await writeFile(`${configFile}.new`, text);
    await rename(`${configFile}.new`, configFile);
  };
  await writeConfig(config({ scratch }));
  const systemd = await SystemdManager.connect('session', sbx.env);
  t.after(() => systemd.close());
  const environment = Object.entries(agentEnv).map(([k, v]) => `Environment=${k}=${v}\n`).join('');
  await writeFile(join(sbx.unitDir, AGENT_UNIT), agentdUnit([
    `--config ${configFile}`, `--config-dir ${sbx.dir}/config.d`, `--system-config-dir ${sbx.dir}/lib-config.d`,
    `--state-dir ${stateDir}`, `--host-root ${sbx.dir}/root`, `--trust-dir ${keystore.adminDir}`, `--system-trust-dir ${keystore.systemDir}`,
  ]).replace('[Service]\n', `[Service]\n${environment}`));
  await systemd.daemonReload();
  await systemd.start(AGENT_UNIT);

  const containers = async (): Promise<ContainerStatus[]> => {
    const r = await agentctl(['ps', '--json'], { env: sbx.env });
    if (r.code !== 0) throw new Error(`agentctl ps: ${r.stderr}`);
    return JSON.parse(r.stdout) as ContainerStatus[];
  };
  return {
    sbx, network, systemd, stateDir, scratch, configFile, writeConfig, containers, eventually, importImage,
    container: async (name) => (await containers()).find((c) => c.name === name),
  };
}
