/**
 * Runs the agent's operations one at a time, in order of arrival (reconcile, reload,
 * apply…). On shutdown it refuses new work and lets the current operation finish.
 */
import { AgentError } from '../core/errors.js';

export class ExclusiveRunner {
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;
  current: string | undefined;

  run<T>(name: string, op: () => Promise<T>): Promise<T> {
    if (this.closed) {
      return Promise.reject(new AgentError({
        code: 'agent.shutting-down',
        message: `not starting "${name}": the agent is stopping`,
        hint: 'Retry once the agent runs again',
      }));
    }
    const result = this.tail.then(async () => {
      this.current = name;
      try {
        return await op();
      } finally {
        this.current = undefined;
      }
    });
    this.tail = result.catch(() => undefined);
    return result;
  }

  /** Refuse new operations and wait for the queued ones. */
  async close(): Promise<void> {
    this.closed = true;
    await this.tail;
  }
}
