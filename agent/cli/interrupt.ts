/**
 * Ctrl-C during a long agentctl call whose work runs in agentd: the first SIGINT runs the
 * verb's own answer (cancel the job in agentd, or say that it goes on), a second one ends
 * agentctl at once, as SIGINT does by default.
 */

/** End agentctl by SIGINT's default action (exit status 130 for the shell). */
export function reraiseInterrupt(): void {
  process.kill(process.pid, 'SIGINT');
}

/** Runs `work` with `first` called on the first SIGINT; a second SIGINT ends agentctl. */
export async function onInterrupt<T>(work: () => Promise<T>, first: () => void): Promise<T> {
  let seen = false;
  const handler = (): void => {
    if (!seen) {
      seen = true;
      first();
      return;
    }
    process.removeListener('SIGINT', handler);
    reraiseInterrupt();
  };
  process.on('SIGINT', handler);
  try {
    return await work();
  } finally {
    process.removeListener('SIGINT', handler);
  }
}
