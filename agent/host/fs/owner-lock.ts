/**
 * A lock file that names its owner: `<path>` holds `PID STARTTIME` (the process's start
 * time in clock ticks since boot, field 22 of /proc/PID/stat). It appears with its content
 * in one step (a temp file hard-linked to the path, which fails when the path exists), so
 * a reader never sees it empty. It is held while that process lives; a file whose process
 * is gone (or whose PID now belongs to a process started at another time) is stale and
 * taken over. So a crash never leaves a lock behind, and a reused PID is not mistaken for
 * the owner. A file whose content is not `PID STARTTIME` (damage) names no owner: it is
 * taken over too, with a warning.
 */
import { link, readFile, rm, writeFile } from 'node:fs/promises';
import { tempPathFor } from './atomic.js';
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

/** The live owner named by the file, or undefined when it is missing, stale or damaged. */
async function liveOwner(path: string, warn: Warn): Promise<LockOwner | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code !== 'EISDIR') throw e;
    text = '';
  }
  const named = parseLockOwner(text);
  if (!named) {
    warn(`${path}: the lock file is damaged (it does not hold "PID STARTTIME"); it names no owner and is taken over`);
    return undefined;
  }
  return (await startTimeOf(named.pid)) === named.startTime ? { pid: named.pid } : undefined;
}

/** Creates `path` holding `text`, in one step; false when it exists. */
async function createWith(path: string, text: string): Promise<boolean> {
  const temp = tempPathFor(path);
  await writeFile(temp, text, { flag: 'wx', mode: 0o644 });
  try {
    await link(temp, path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  } finally {
    await rm(temp, { force: true });
  }
}

/**
 * Takes the lock at `path`, or returns the live process that holds it. A stale or damaged
 * file is replaced. Never waits.
 */
export async function tryLock(path: string, warn: Warn = warnOnStderr): Promise<OwnerLock | LockOwner> {
  const me = `${process.pid} ${await startTimeOf(process.pid)}\n`;
  for (let attempt = 0; attempt < 3; attempt++) {
    if (await createWith(path, me)) {
      return {
        release: async () => {
          if ((await readFile(path, 'utf8').catch(() => '')) === me) await rm(path, { force: true });
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
