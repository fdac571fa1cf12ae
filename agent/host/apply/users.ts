/**
 * Creates users and sets their password hashes with shadow-utils, argv only (no shell).
 * Under a host root other than `/` (sandboxes, tests) the tools work on that root's
 * /etc files: `useradd --prefix ROOT`, `chpasswd --root ROOT`. The hash goes to chpasswd
 * on stdin, not on its command line.
 */
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { AgentError } from '../../core/errors.js';
import type { UserCreation } from '../../core/plan/steps.js';

export interface UserToolsOptions {
  /** Root directory of the host's files. */
  root: string;
}

const underRoot = (root: string): boolean => resolve(root) !== '/';

/** useradd's arguments for a new user. Without a hash the password is `*`: no password login, SSH keys work. */
export function useraddArgs(u: UserCreation, root: string): string[] {
  const args = [
    ...(underRoot(root) ? ['--prefix', resolve(root)] : []),
    '--password', u.passwd ?? '*',
    ...(u.gecos !== undefined ? ['--comment', u.gecos] : []),
    ...(u.homedir !== undefined ? ['--home-dir', u.homedir] : []),
    u.noCreateHome ? '--no-create-home' : '--create-home',
    ...(u.primaryGroup !== undefined ? ['--gid', u.primaryGroup] : []),
    ...(u.groups.length > 0 ? ['--groups', u.groups.join(',')] : []),
    ...(u.noUserGroup ? ['--no-user-group'] : []),
    ...(u.system ? ['--system'] : []),
    ...(u.noLogInit ? ['--no-log-init'] : []),
    ...(u.shell !== undefined ? ['--shell', u.shell] : []),
  ];
  return [...args, '--', u.name];
}

/** Runs a tool; its stderr becomes the error's message. */
function run(tool: string, args: string[], user: string, input?: string): Promise<void> {
  return new Promise((done, fail) => {
    const child = execFile(tool, args, { timeout: 60_000 }, (err, _stdout, stderr) => {
      if (!err) return done();
      const why = stderr.trim().split('\n').pop() || err.message;
      fail(new AgentError({
        code: 'config.user-failed',
        message: `${tool} failed: ${why}`,
        subject: `users[${user}]`,
        hint: (err as NodeJS.ErrnoException).code === 'ENOENT'
          ? `Install shadow-utils (the passwd package) so that ${tool} is on the agent's PATH`
          : 'Fix the user entry (groups and primary_group must exist) and save the configuration',
        cause: err,
      }));
    });
    child.stdin?.end(input ?? '');
  });
}

export function createUser(u: UserCreation, opts: UserToolsOptions): Promise<void> {
  return run('useradd', useraddArgs(u, opts.root), u.name);
}

export function setPasswordHash(user: string, hash: string, opts: UserToolsOptions): Promise<void> {
  const args = ['--encrypted', ...(underRoot(opts.root) ? ['--root', resolve(opts.root)] : [])];
  return run('chpasswd', args, user, `${user}:${hash}\n`);
}
