/**
 * A lock file that names its owner: `<path>` is a symbolic link whose target is
 * `PID STARTTIME` (the process's start time in clock ticks since boot, field 22 of
 * /proc/PID/stat), as Emacs makes its lock files. symlink() creates it with its content in
 * one step and fails when the path exists, so a reader never sees it empty, and a short
 * target lives in the inode: the lock is taken even on a full disk. A regular file holding
 * the same text (older agents) is read too. It is held while that process lives; a file whose process
 * is gone (or whose PID now belongs to a process started at another time) is stale and
 * taken over. So a crash never leaves a lock behind, and a reused PID is not mistaken for
 * the owner. A file whose content is not `PID STARTTIME` (damage) names no owner: it is
 * taken over too, with a warning.
 */
import { readFile, readlink, rm, symlink } from 'node:fs/promises';
import { warnOnStderr, type Warn } from './state-file.js';

export interface OwnerLock {
  /** Removes the lock file if it is still ours. */
  release(): Promise<void>;
}

export interface LockOwner {
  pid: number;
}

/** Pure: the PID and start time a lock file names, or undefined when its text is not `PID STARTTIME`. */
export function parseLockOwner(text: string): { pid: number; startTime: string } | undefined {
  const m = /^(\d{1,10}) (\d{1,20})\n?$/.exec(text);
  const pid = Number(m?.[1]);
  return m && Number.isSafeInteger(pid) && pid > 0 ? { pid, startTime: m[2]! } : undefined;
}

/** The start time of `pid`, or undefined when there is no such process. */
async function startTimeOf(pid: number): Promise<string | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** What the lock at `path` says: its link target, or the text of a regular file; undefined when missing. */
async function lockText(path: string): Promise<string | undefined> {
  try {
    return await readlink(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code !== 'EINVAL') throw e;
  }
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'EISDIR') return '';
    throw e;
  }
}

/** The live owner named by the lock, or undefined when it is missing, stale or damaged. */
async function liveOwner(path: string, warn: Warn): Promise<LockOwner | undefined> {
  const text = await lockText(path);
  if (text === undefined) return undefined;
  const named = parseLockOwner(text);
  if (!named) {
    warn(`${path}: the lock file is damaged (it does not hold "PID STARTTIME"); it names no owner and is taken over`);
    return undefined;
  }
  return (await startTimeOf(named.pid)) === named.startTime ? { pid: named.pid } : undefined;
}

/** Creates the lock naming `me`, in one step; false when the path exists. */
async function createLock(path: string, me: string): Promise<boolean> {
  try {
    await symlink(me, path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
}

/**
 * Takes the lock at `path`, or returns the live process that holds it. A stale or damaged
 * file is replaced. Never waits.
 */
export async function tryLock(path: string, warn: Warn = warnOnStderr): Promise<OwnerLock | LockOwner> {
  const me = `${process.pid} ${await startTimeOf(process.pid)}`;
  for (let attempt = 0; attempt < 3; attempt++) {
    if (await createLock(path, me)) {
      return {
        release: async () => {
          if ((await lockText(path).catch(() => undefined)) === me) await rm(path, { force: true });
        },
      };
    }
    const owner = await liveOwner(path, warn);
    if (owner) return owner;
    await rm(path, { force: true, recursive: true }); // stale: its process is gone
  }
  const owner = await liveOwner(path, warn);
  if (owner) return owner;
  throw new Error(`cannot take the lock ${path}: it keeps changing`);
}

/** Whether tryLock took the lock. */
export function isLock(result: OwnerLock | LockOwner): result is OwnerLock {
  return 'release' in result;
}
