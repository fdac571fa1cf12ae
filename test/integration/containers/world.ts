/**
 * The world of the container integration tests: a sandbox systemd manager, a state
 * directory with one busybox image laid out as the image store keeps it
 * (`images/<id>/{manifest,rootfs/}`), ContainerUnits over the sandbox's unit directory,
 * and helpers to start a declared container and wait for files it writes.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmod, copyFile, mkdir, readFile, readdir, rmdir, symlink, writeFile, lstat, readlink } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { validateImageManifest } from '../../../agent/core/appc/manifest.js';
import { appcRecord } from '../../../agent/core/appc/record.js';
import type { ImageRecord } from '../../../agent/core/image/record.js';
import { layerDirOf } from '../../../agent/host/images/store.js';
import type { ContainerSpec } from '../../../agent/core/containers/spec.js';
import { readHostFacts } from '../../../agent/host/containers/host-facts.js';
import { ContainerUnits } from '../../../agent/host/containers/units.js';
import { SystemdManager } from '../../../agent/host/systemd/manager.js';
import { UnitFileStore } from '../../../agent/host/systemd/unit-files.js';
import { startSandbox, type Sandbox } from '../../lib/sandbox.js';
import { tmpdir } from '../../lib/tmpdir.js';
import { testNetworks, type TestNetworks } from '../../lib/cni-net.js';

interface HasAfter {
  after(fn: () => unknown): void;
}

export interface World {
  sbx: Sandbox;
  systemd: SystemdManager;
  units: ContainerUnits;
  stateDir: string;
  /** A scratch directory for volumes and markers. */
  scratch: string;
  image: { id: string; record: ImageRecord; rootfs: string };
  /** Renders, installs, reloads and starts; returns the main unit. */
  run(spec: ContainerSpec): Promise<string>;
  spec(name: string, fields?: Partial<ContainerSpec>): ContainerSpec;
  /** Container networks on the test's own bridges and subnets (makeWorld with `network: true`). */
  net: TestNetworks | undefined;
}

/** A busybox-static tree: /bin/busybox and every applet as a symlink, /usr, /etc, /tmp. */
async function busyboxTree(rootfs: string): Promise<void> {
  for (const dir of ['bin', 'etc', 'tmp', 'usr', 'www']) await mkdir(join(rootfs, dir), { recursive: true });
  await chmod(join(rootfs, 'tmp'), 0o1777);
  await copyFile('/bin/busybox', join(rootfs, 'bin/busybox'));
  await chmod(join(rootfs, 'bin/busybox'), 0o755);
  const applets = execFileSync('/bin/busybox', ['--list'], { encoding: 'utf8' }).split('\n').filter((a) => a && a !== 'busybox');
  for (const applet of applets) await symlink('busybox', join(rootfs, 'bin', applet));
  await writeFile(join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/:/bin/sh\n');
  await writeFile(join(rootfs, 'www/index.html'), 'hello from the image\n');
}

const MANIFEST = {
  acKind: 'ImageManifest',
  acVersion: '0.8.11',
  name: 'example.com/busybox',
  labels: [{ name: 'version', value: '1.0.0' }, { name: 'os', value: 'linux' }, { name: 'arch', value: 'amd64' }],
  app: { exec: ['/bin/sh', '-c', 'echo image default'], user: '0', group: '0', environment: [{ name: 'FROM_IMAGE', value: 'image' }, { name: 'GREETING', value: 'from image' }] },
};

export async function makeWorld(t: HasAfter, opts: { network?: boolean; helper?: string[] } = {}): Promise<World> {
  const sbx = await startSandbox(t);
  const base = await tmpdir(t, 'host-agent-containers-');
  const stateDir = join(base, 'state');
  const scratch = join(base, 'scratch');
  await mkdir(scratch, { recursive: true });
  const id = `sha512-${createHash('sha512').update(JSON.stringify(MANIFEST)).digest('hex')}`;
  const record = appcRecord(validateImageManifest(MANIFEST), id);
  const imageDir = join(stateDir, 'images', id);
  await busyboxTree(join(imageDir, 'rootfs'));
  await writeFile(join(imageDir, 'manifest'), JSON.stringify(MANIFEST));

  const systemd = await SystemdManager.connect('session', sbx.env);
  t.after(() => systemd.close());
  const cgroupParent = `host-agent-test-${randomBytes(4).toString('hex')}`;
  const facts = await readHostFacts({ bus: 'session', cgroupParent });
  t.after(async () => {
    for (const dir of Object.values(facts.legacyCgroups ?? {})) {
      const children = await readdir(dir, { withFileTypes: true }).catch(() => []);
      for (const c of children) if (c.isDirectory()) await rmdir(join(dir, c.name)).catch(() => undefined);
      await rmdir(dir).catch(() => undefined);
    }
  });
  const net = opts.network ? testNetworks(t, join(base, 'run'), undefined, opts.helper) : undefined;
  const units = new ContainerUnits({
    ...(net && { network: net.settings }),
    stateDir,
    unitFiles: new UnitFileStore({ persistent: sbx.unitDir, runtime: join(sbx.env.XDG_RUNTIME_DIR!, 'systemd/user') }),
    images: { layerDir: (layerId) => layerDirOf(stateDir, layerId) },
    facts,
    output: 'file',
  });
  const world: World = {
    sbx, systemd, units, stateDir, scratch, net,
    image: { id, record, rootfs: join(imageDir, 'rootfs') },
    spec: (name, fields = {}) => ({
      name, image: record, environment: {}, volumes: [], ports: [], restart: 'no', isolation: 'nspawn', ...fields,
    }),
    async run(spec) {
      const rendered = await units.render(spec);
      await units.install(spec.name, rendered, spec.image.layers);
      await systemd.daemonReload();
      await systemd.start(rendered.unit);
      return rendered.unit;
    },
  };
  return world;
}

/** Waits until `file` exists and is non-empty, then returns its text. */
export async function waitForFile(file: string, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await readFile(file, 'utf8').catch(() => '');
    if (text !== '') return text;
    if (Date.now() > deadline) throw new Error(`${file} did not appear within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Waits until the unit is no longer active (its payload ended). */
export async function waitInactive(systemd: SystemdManager, unit: string, timeoutMs = 20_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { activeState } = await systemd.unitStatus(unit);
    if (activeState === 'inactive' || activeState === 'failed') return activeState;
    if (Date.now() > deadline) throw new Error(`${unit} still ${activeState} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** path → mode, owner, size, mtime, ctime and content hash of every entry below `root`. */
export async function treeSnapshot(root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (dir: string): Promise<void> => {
    for (const name of (await readdir(dir)).sort()) {
      const path = join(dir, name);
      const st = await lstat(path);
      const content = st.isFile() ? createHash('sha256').update(await readFile(path)).digest('hex')
        : st.isSymbolicLink() ? await readlink(path) : '';
      out.set(path.slice(root.length), `${st.mode} ${st.uid}:${st.gid} ${st.size} ${st.mtimeMs} ${st.ctimeMs} ${content}`);
      if (st.isDirectory()) await walk(path);
    }
  };
  out.set('/', String((await lstat(root)).mode));
  await walk(root);
  return out;
}
