/**
 * The end-to-end scenario as a sequence of node:test tests, one per step, sharing state:
 * a step runs only when every step before it passed (the rest are skipped, naming the one
 * that failed), each is timed, and `summary()` prints the table of steps and times.
 * Also the teardown stack (what a step starts is stopped in reverse order at the end),
 * notes printed after the summary, and what to print when a step fails (e.g. a journal).
 */
import { test } from 'node:test';

type Outcome = 'passed' | 'failed' | 'skipped';

interface StepRecord {
  name: string;
  outcome: Outcome;
  ms: number;
}

export class Scenario {
  private readonly records: StepRecord[] = [];
  private failedStep: string | undefined;
  private readonly teardown: (() => unknown)[] = [];
  private readonly notes: string[] = [];
  private explain: (() => Promise<string>) | undefined;
  private readonly started = performance.now();

  /** One step: a test of its own, skipped when an earlier step failed. */
  step(name: string, fn: () => Promise<void>): void {
    test(name, async (t) => {
      if (this.failedStep) {
        this.records.push({ name, outcome: 'skipped', ms: 0 });
        t.skip(`the step "${this.failedStep}" failed`);
        return;
      }
      const start = performance.now();
      try {
        await fn();
        this.records.push({ name, outcome: 'passed', ms: performance.now() - start });
      } catch (e) {
        this.failedStep = name;
        this.records.push({ name, outcome: 'failed', ms: performance.now() - start });
        const context = await this.explain?.().catch((err: unknown) => `(no more context: ${String(err)})`);
        if (context) t.diagnostic(context);
        throw e;
      }
    });
  }

  /** What to print when a step fails (the journal of the host, its console…). */
  onFailure(explain: () => Promise<string>): void {
    this.explain = explain;
  }

  /** Text printed after the summary (e.g. output worth reading in the CI log). */
  note(text: string): void {
    this.notes.push(text);
  }

  /** Register a clean-up; they run last-registered first (`after` of the test file). */
  after(fn: () => unknown): void {
    this.teardown.push(fn);
  }

  /** Run the clean-ups; every one runs even when one fails; the first failure is thrown. */
  async tearDown(): Promise<void> {
    let first: unknown;
    for (const fn of this.teardown.splice(0).reverse()) {
      try {
        await fn();
      } catch (e) {
        first ??= e;
      }
    }
    if (first) throw first;
  }

  /** The table of steps with their outcome and time, and the whole run's time. */
  summary(): string {
    const width = Math.max(...this.records.map((r) => r.name.length), 10);
    const lines = this.records.map((r, i) => {
      const time = r.ms > 0 ? `${(r.ms / 1000).toFixed(2)} s` : '';
      return `${String(i + 1).padStart(2)}. ${r.name.padEnd(width)}  ${r.outcome.padEnd(7)}  ${time.padStart(8)}`;
    });
    const total = ((performance.now() - this.started) / 1000).toFixed(1);
    return ['end-to-end scenario on a real host:', ...lines, `whole run: ${total} s`, ...this.notes].join('\n');
  }
}
