/**
 * `agentctl status` wall time against `node -e 0` and `systemctl --user status`, all in
 * the same run, on a sandbox host with agentd running from dist/. Target: 1.5× node -e 0.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { REPO } from '../test/lib/repo.js';
import { waitForAgent } from '../test/lib/agent.js';
import { report, timeCommand } from './lib/measure.js';

const RUNS = 15;

export async function run(): Promise<boolean> {
  const dir = await mkdtemp(join(tmpdir(), 'host-agent-bench-'));
  const sandbox = join(REPO, 'scripts/sandbox');
  const out = execFileSync(sandbox, ['up', dir], { encoding: 'utf8' });
  const env: NodeJS.ProcessEnv = { ...process.env, HOST_AGENT_BUS: 'session' };
  for (const m of out.matchAll(/^export (\w+)='([^']*)'$/gm)) env[m[1]!] = m[2]!;
  const agent = spawn(process.execPath, [join(REPO, 'dist/agent/main.js'), '--user', `--config=${dir}/none.yaml`, `--config-dir=${dir}/none.d`, `--system-config-dir=${dir}/none.d`, `--state-dir=${dir}/state`, `--host-root=${dir}/root`], { env, stdio: 'ignore' });
  try {
    await waitForAgent(env);
    const node = timeCommand('node -e 0', [process.execPath, '-e', '0'], env, RUNS);
    const status = timeCommand('agentctl status', [process.execPath, join(REPO, 'dist/agent/cli/main.js'), 'status'], env, RUNS);
    const json = timeCommand('agentctl status --json', [process.execPath, join(REPO, 'dist/agent/cli/main.js'), 'status', '--json'], env, RUNS);
    const systemctl = timeCommand('systemctl --user status (a unit)', ['systemctl', '--user', 'status', '--no-pager', 'default.target'], env, RUNS, [0, 3]);
    return report(`agentctl status (median of ${RUNS})`, node, [status, json, systemctl], { sample: 'agentctl status', maxRatio: 1.5 });
  } finally {
    agent.kill('SIGTERM');
    execFileSync(sandbox, ['down', dir]);
    await rm(dir, { recursive: true, force: true });
  }
}
