/**
 * A private systemd manager and bus for one test file (scripts/sandbox), torn down after.
 * `env` is what a process needs to use it (agentd --user, agentctl, systemctl --user).
 */
import { execFile } from 'node:child_process';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { tmpdir } from './tmpdir.js';
import { REPO } from './repo.js';

const run = promisify(execFile);

export interface Sandbox {
  dir: string;
  env: NodeJS.ProcessEnv;
  /** Directory the user manager loads unit files from. */
  unitDir: string;
  systemctl(...args: string[]): Promise<string>;
}

interface HasAfter {
  after(fn: () => unknown): void;
}

export interface SandboxOptions {
  /** Let every user connect to the bus (as to a system bus), e.g. an unprivileged agentctl. */
  otherUsers?: boolean;
}

export async function startSandbox(t: HasAfter, opts: SandboxOptions = {}): Promise<Sandbox> {
  const dir = await tmpdir(t, 'host-agent-sbx-');
  if (opts.otherUsers) await openBusToEveryUser(dir);
  const script = join(REPO, 'scripts/sandbox');
  const { stdout } = await run(script, ['up', dir]);
  t.after(() => run(script, ['down', dir]));
  if (opts.otherUsers) {
    await chmod(dir, 0o755);
    await chmod(join(dir, 'run'), 0o755);
  }
  const env: NodeJS.ProcessEnv = { ...process.env, HOST_AGENT_BUS: 'session' };
  for (const m of stdout.matchAll(/^export (\w+)='([^']*)'$/gm)) env[m[1]!] = m[2]!;
  return {
    dir,
    env,
    unitDir: join(env.XDG_CONFIG_HOME!, 'systemd/user'),
    systemctl: async (...args) => (await run('systemctl', ['--user', ...args], { env })).stdout,
  };
}

/**
 * The session bus config refuses connections from other users; the manager's bus
 * (dbus.service, socket-activated) gets a config that allows them, before it starts.
 */
async function openBusToEveryUser(dir: string): Promise<void> {
  const conf = join(dir, 'bus-every-user.conf');
  await writeFile(conf, `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <include>/usr/share/dbus-1/session.conf</include>
  <policy context="default"><allow user="*"/></policy>
</busconfig>
`);
  const dropins = join(dir, 'config/systemd/user/dbus.service.d');
  await mkdir(dropins, { recursive: true });
  await writeFile(join(dropins, 'every-user.conf'), `[Service]
ExecStart=
ExecStart=/usr/bin/dbus-daemon --config-file=${conf} --address=systemd: --nofork --nopidfile --systemd-activation --syslog-only
`);
}
