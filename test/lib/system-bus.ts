/**
 * A private bus configured like the system bus: Debian's system.conf (default-deny
 * policy, messagebus user) plus a directory of extra policy files, on a socket in a temp
 * directory. Stopped by PID after the test.
 */
import { spawn } from 'node:child_process';
import { mkdir, copyFile } from 'node:fs/promises';
import { join, basename } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { chmod } from 'node:fs/promises';
import { tmpdir } from './tmpdir.js';

interface HasAfter {
  after(fn: () => unknown): void;
}

export interface SystemLikeBus {
  address: string;
  /** Environment in which agentd --system and agentctl use this bus. */
  env: NodeJS.ProcessEnv;
}

export async function startSystemLikeBus(t: HasAfter, policyFiles: string[]): Promise<SystemLikeBus> {
  const dir = await tmpdir(t, 'host-agent-sysbus-');
  await chmod(dir, 0o755); // other users must reach the socket
  const policyDir = join(dir, 'system.d');
  await mkdir(policyDir);
  for (const f of policyFiles) await copyFile(f, join(policyDir, basename(f)));
  const config = join(dir, 'bus.conf');
  await writeFile(config, `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <include>/usr/share/dbus-1/system.conf</include>
  <includedir>${policyDir}</includedir>
</busconfig>
`);
  const socket = join(dir, 'system_bus_socket');
  const address = `unix:path=${socket}`;
  const daemon = spawn('dbus-daemon', [`--config-file=${config}`, `--address=${address}`, '--nofork', '--nopidfile', '--print-address=1'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  t.after(() => daemon.kill('SIGTERM'));
  await new Promise<void>((resolve, reject) => {
    daemon.stdout!.once('data', () => resolve());
    daemon.once('exit', (code) => reject(new Error(`dbus-daemon exited with ${code}`)));
  });
  return { address, env: { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: address, HOST_AGENT_BUS: 'system' } };
}
