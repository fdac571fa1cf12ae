/**
 * A lock file that names its owner: `<path>` holds `PID STARTTIME` (the process's start
 * time in clock ticks since boot, field 22 of /proc/PID/stat), created with O_EXCL. It is
 * held while that process lives; a file whose process is gone (or whose PID now belongs
 * to a process started at another time) is stale and taken over. So a crash never leaves
 * a lock behind, and a reused PID is not mistaken for the owner.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';

export interface OwnerLock {
  /** Removes the lock file if it is still ours. */
  release(): Promise<void>;
}

export interface LockOwner {
  pid: number;
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

/** The live owner named by the file, or undefined when it is missing or stale. */
async function liveOwner(path: string): Promise<LockOwner | undefined> {
  const text = await readFile(path, 'utf8').catch(() => '');
  const [pidText, startTime] = text.trim().split(' ');
  const pid = Number(pidText);
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  return (await startTimeOf(pid)) === startTime ? { pid } : undefined;
}

/**
 * Takes the lock at `path`, or returns the live process that holds it. A stale file is
 * replaced. Never waits.
 */
export async function tryLock(path: string): Promise<OwnerLock | LockOwner> {
  const me = `${process.pid} ${await startTimeOf(process.pid)}\n`;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await writeFile(path, me, { flag: 'wx', mode: 0o644 });
      return {
        release: async () => {
          if ((await readFile(path, 'utf8').catch(() => '')) === me) await rm(path, { force: true });
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const owner = await liveOwner(path);
    if (owner) return owner;
    await rm(path, { force: true }); // stale: its process is gone
  }
  const owner = await liveOwner(path);
  if (owner) return owner;
  throw new Error(`cannot take the lock ${path}: it keeps changing`);
}

/** Whether tryLock took the lock. */
export function isLock(result: OwnerLock | LockOwner): result is OwnerLock {
  return 'release' in result;
}
