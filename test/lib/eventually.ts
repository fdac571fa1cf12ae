/**
 * Waiting in tests for something the system does on its own (a watcher applying a file,
 * a signal updating a status): probe until `ok`, or fail naming what was awaited and the
 * last value seen. A probe that throws counts as not yet.
 */

export async function eventually<T>(probe: () => Promise<T>, ok: (v: T) => boolean, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch((e: unknown) => e as T);
    if (!(v instanceof Error) && ok(v)) return v;
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}; last: ${v instanceof Error ? v.message : String(JSON.stringify(v)).slice(0, 3000)}`);
    }
    await new Promise((r) => setTimeout(r, 150));
  }
}
