/**
 * Running agentd and agentctl from the source tree in tests: agentctl as a child process
 * (exit code and output), agentd as a child process or as a unit of a sandbox manager.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { AGENTCTL, AGENTD, REPO } from './repo.js';
import { AGENT_BUS_NAME, AGENT_INTERFACE, AGENT_OBJECT_PATH } from '../../agent/api/agent1.js';
import { callMethod } from '../../agent/host/bus/lean-client.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env: NodeJS.ProcessEnv;
  uid?: number;
  gid?: number;
  /** Called with the child once started (to signal it). */
  onSpawn?: (child: ChildProcess) => void;
}

export function agentctl(args: string[], opts: RunOptions): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', AGENTCTL, ...args], {
      cwd: REPO, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'],
      ...(opts.uid !== undefined && { uid: opts.uid }), ...(opts.gid !== undefined && { gid: opts.gid }),
    });
    opts.onSpawn?.(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** Resolve once agentd answers GetStatus on the bus of `env`. */
export async function waitForAgent(env: NodeJS.ProcessEnv, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const bus = env.HOST_AGENT_BUS === 'session' ? 'session' : 'system';
  for (;;) {
    try {
      await callMethod({ bus, env, destination: AGENT_BUS_NAME, path: AGENT_OBJECT_PATH, interface: AGENT_INTERFACE, member: 'GetStatus', timeoutMs: 2000 });
      return;
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

interface HasAfter {
  after(fn: () => unknown): void;
}

/** Start agentd as a child process (not under systemd); stopped by PID after the test. */
export async function startAgentProcess(t: HasAfter, args: string[], env: NodeJS.ProcessEnv): Promise<ChildProcess & { log: () => string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', AGENTD, ...args], {
    cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout!.on('data', (d) => (log += d));
  child.stderr!.on('data', (d) => (log += d));
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  await waitForAgent(env);
  return Object.assign(child, { log: () => log });
}

/** A unit file that runs agentd from the source tree on a sandbox's session bus. */
export function agentdUnit(args: string[]): string {
  return `[Unit]
Description=host-agent (test)

[Service]
Type=dbus
BusName=${AGENT_BUS_NAME}
WorkingDirectory=${REPO}
ExecStart=${process.execPath} --import tsx ${AGENTD} --user ${args.join(' ')}
Restart=on-failure
`;
}
