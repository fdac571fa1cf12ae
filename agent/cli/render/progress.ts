/**
 * The progress bar of long verbs (fetch): one cli-progress bar per phase (download,
 * verify, extract) on stderr, only when stderr is a terminal; otherwise nothing is drawn.
 * cli-progress is loaded only when a bar is drawn, so other verbs do not pay for it.
 */

export interface PhaseProgress {
  phase: string;
  done: number;
  total: number | null | undefined;
}

export interface ProgressView {
  update(p: PhaseProgress): void;
  /** Ends the bar (leaves the last state on its own line). */
  stop(): void;
}

const SILENT: ProgressView = { update: () => undefined, stop: () => undefined };

function mib(bytes: number): string {
  return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}

/** A bar on `stream` when it is a terminal, else a view that draws nothing. */
export async function progressView(stream: NodeJS.WritableStream, label: string): Promise<ProgressView> {
  if (!(stream as { isTTY?: boolean }).isTTY) return SILENT;
  const { SingleBar } = (await import('cli-progress')).default;
  let bar: InstanceType<typeof SingleBar> | undefined;
  let phase: string | undefined;
  const stop = (): void => {
    bar?.stop();
    bar = undefined;
  };
  return {
    update(p) {
      const total = p.total ?? 0;
      if (p.phase !== phase) {
        stop();
        phase = p.phase;
        bar = new SingleBar({
          stream,
          format: `${label} {phase} [{bar}] {percentage}% {size}`,
          hideCursor: true,
          fps: 10,
        });
        bar.start(Math.max(total, 1), 0, { phase: p.phase.padEnd(8), size: '' });
      }
      bar!.update(p.done, { phase: p.phase.padEnd(8), size: total ? `${mib(p.done)} / ${mib(total)}` : mib(p.done) });
    },
    stop,
  };
}
