/**
 * A private systemd manager and bus for one test file (scripts/sandbox), torn down after.
 * `env` is what a process needs to use it (agentd --user, agentctl, systemctl --user).
 */
import { execFile } from 'node:child_process';
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

export async function startSandbox(t: HasAfter): Promise<Sandbox> {
  const dir = await tmpdir(t, 'host-agent-sbx-');
  const script = join(REPO, 'scripts/sandbox');
  const { stdout } = await run(script, ['up', dir]);
  t.after(() => run(script, ['down', dir]));
  const env: NodeJS.ProcessEnv = { ...process.env, HOST_AGENT_BUS: 'session' };
  for (const m of stdout.matchAll(/^export (\w+)='([^']*)'$/gm)) env[m[1]!] = m[2]!;
  return {
    dir,
    env,
    unitDir: join(env.XDG_CONFIG_HOME!, 'systemd/user'),
    systemctl: async (...args) => (await run('systemctl', ['--user', ...args], { env })).stdout,
  };
}
