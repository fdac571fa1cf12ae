/**
 * The streams of an in-process agentctl run (`runCli`) for unit tests: what it writes to
 * stdout and stderr is kept and read back with `out()` and `err()`.
 */
export function captureIo() {
  let stdout = '';
  let stderr = '';
  return {
    stdout: { write: (s: string) => ((stdout += s), true) } as unknown as NodeJS.WritableStream,
    stderr: { write: (s: string) => ((stderr += s), true) } as unknown as NodeJS.WritableStream,
    env: {}, isTTY: false,
    out: () => stdout, err: () => stderr,
  };
}
