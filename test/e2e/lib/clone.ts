/**
 * A fresh clone of this repository's HEAD, as a new user gets it, for the tests of the way
 * in (the demo, the getting-started guide): cloned under a directory of /tmp, sharing this
 * checkout's node_modules (the tests do not reach npm), and run in bash with none of the
 * test's own HOST_AGENT_*, sandbox or CA variables.
 */
import { execFile, spawn } from 'node:child_process';
import { realpath, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO } from '../../lib/repo.js';

const run = promisify(execFile);

/** Clones HEAD into `dir` and links node_modules. */
export async function freshClone(dir: string): Promise<void> {
  const { stdout: head } = await run('git', ['-C', REPO, 'rev-parse', 'HEAD']);
  await run('git', ['clone', '--quiet', '--no-checkout', REPO, dir]);
  await run('git', ['-C', dir, 'checkout', '--quiet', head.trim()]);
  await symlink(await realpath(join(REPO, 'node_modules')), join(dir, 'node_modules'));
}

/** This process's environment without what would point a shell at the tests' hosts. */
export function userEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of Object.keys(env)) {
    if (k.startsWith('HOST_AGENT_') || k.startsWith('XDG_') || ['NODE_EXTRA_CA_CERTS', 'GNUPGHOME', 'DBUS_SESSION_BUS_ADDRESS'].includes(k)) delete env[k];
  }
  return env;
}

/** Runs `script` with bash in `cwd`; `output` is stdout and stderr as they came. */
export function bash(cwd: string, script: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', script], { cwd, env: userEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

/** Stops the demo of a clone (by PID, scripts/demo stop); never throws. */
export async function stopDemo(dir: string): Promise<void> {
  await run('scripts/demo', ['stop'], { cwd: dir }).catch(() => undefined);
}
