/**
 * Running one program (a CNI plugin, unshare, umount, losetup, veritysetup): stdin in,
 * stdout out, a deadline, an optional cancel signal, and the exit status. Never through a shell.
 */
import { spawn } from 'node:child_process';

export interface ExecResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  env?: NodeJS.ProcessEnv;
  stdin?: string;
  timeoutMs: number;
  /** Kills the program (SIGKILL) and rejects with an AbortError. */
  signal?: AbortSignal;
}

export function execProgram(program: string, args: readonly string[], opts: ExecOptions): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'], killSignal: 'SIGKILL', ...(opts.signal && { signal: opts.signal }) });
    // Our own deadline, cleared on every ending: spawn's `timeout` keeps its timer (and the
    // process) alive when the program cannot be started at all.
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (timedOut) stderr += `\n(killed after ${opts.timeoutMs} ms)`;
      resolve({ code, stdout, stderr });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.stdin ?? '');
  });
}
