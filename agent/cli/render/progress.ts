/**
 * The progress bar of long verbs (fetch): one cli-progress bar per phase (download,
 * verify, extract) on stderr, only when stderr is a terminal; otherwise nothing is drawn.
 * Events naming a layer (OCI images, whose layers download in parallel) get one bar per
 * layer, drawn together. cli-progress is loaded only when a bar is drawn, so other verbs
 * do not pay for it.
 */

export interface PhaseProgress {
  phase: string;
  done: number;
  total: number | null | undefined;
  /** The layer the event counts (OCI); absent: the image as a whole. */
  layer?: string;
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
  const { SingleBar, MultiBar } = (await import('cli-progress')).default;
  let bar: InstanceType<typeof SingleBar> | undefined;
  let phase: string | undefined;
  let multi: InstanceType<typeof MultiBar> | undefined;
  const layers = new Map<string, ReturnType<InstanceType<typeof MultiBar>['create']>>();
  const stop = (): void => {
    bar?.stop();
    bar = undefined;
    multi?.stop();
    multi = undefined;
    layers.clear();
  };
  return {
    update(p) {
      const total = p.total ?? 0;
      const size = total ? `${mib(p.done)} / ${mib(total)}` : mib(p.done);
      if (p.layer !== undefined) {
        multi ??= new MultiBar({ stream, format: `${label} {layer} [{bar}] {percentage}% {size}`, hideCursor: true, fps: 10 });
        let layerBar = layers.get(p.layer);
        if (!layerBar) {
          layerBar = multi.create(Math.max(total, 1), 0, { layer: p.layer, size: '' });
          layers.set(p.layer, layerBar);
        }
        layerBar.update(p.done, { layer: p.layer, size });
        return;
      }
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
      bar!.update(p.done, { phase: p.phase.padEnd(8), size });
    },
    stop,
  };
}
