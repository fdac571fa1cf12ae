/**
 * Container image auto-update in agentctl: `image updates` (alias `images updates`) shows
 * the current, staged and previous image of every container with `auto-update: true`,
 * the last result and the images never retried; `update containers --now` runs a pass
 * (UpdateContainers) and shows the same afterwards. Both through agentd.
 */
import type { ContainerImageUpdate, ImageUpdateImage, ImageUpdatesDocument } from '../../api/agent1.js';
import { callAgent } from '../agent-client.js';
import { renderTable } from '../render/table.js';
import { styler } from '../render/style.js';
import type { CliContext } from '../verb.js';
import { shortImageId } from '../../core/image/id.js';

/** A pass fetches images and waits out the settle time of each restarted container. */
const PASS_TIMEOUT_MS = 30 * 60_000;

export async function fetchImageUpdates(ctx: CliContext): Promise<ImageUpdatesDocument> {
  const [json] = await callAgent(ctx, 'ContainerImageUpdates');
  return JSON.parse(json as string) as ImageUpdatesDocument;
}

export async function runImageUpdates(ctx: CliContext): Promise<ImageUpdatesDocument> {
  const [json] = await callAgent(ctx, 'UpdateContainers', [], { timeoutMs: PASS_TIMEOUT_MS });
  return JSON.parse(json as string) as ImageUpdatesDocument;
}

/**
 * The containers whose image update rolled back or failed in a pass begun at `since`
 * (ISO 8601): `update containers --now` exits 1 when there is one.
 */
export function passFailures(doc: ImageUpdatesDocument, since: string): string[] {
  return doc.containers
    .filter((c) => (c.last?.result === 'rolled back' || c.last?.result === 'error') && c.last.at >= since)
    .map((c) => c.name);
}

function image(i: ImageUpdateImage | undefined): string {
  return i ? `${i.version ?? '-'} ${shortImageId(i.id)}` : '-';
}

export function renderImageUpdates(doc: ImageUpdatesDocument, color: boolean): string {
  const paint = styler(color);
  const w = doc.window;
  const lines = [
    `Check:  ${doc.check ?? 'not scheduled (host-agent.images.check)'}${doc.nextCheckAt ? `, next at ${doc.nextCheckAt}` : ''}`,
    `Window: ${w ? `${w.start} for ${w.length}, ${w.open ? 'open' : `closed, opens at ${w.nextStart}`}` : 'any time (no host-agent.images.window)'}`,
    `Settle: ${doc.settleSeconds} s${doc.lastPassAt ? `; last pass at ${doc.lastPassAt}` : ''}`,
    '',
  ];
  if (doc.containers.length === 0) return `${lines.join('\n')}No container has auto-update: true.\n`;
  const table = renderTable(doc.containers, [
    { header: 'NAME', value: (c) => c.name },
    { header: 'CURRENT', value: (c) => `${image(c.current)}${c.trial ? ' (settling)' : ''}` },
    { header: 'STAGED', value: (c) => image(c.staged) },
    { header: 'PREVIOUS', value: (c) => image(c.previous) },
    {
      header: 'LAST',
      value: (c) => c.last?.result ?? '-',
      style: (c, padded) => (c.last?.result === 'rolled back' || c.last?.result === 'error' ? paint('red', padded) : padded),
    },
  ]);
  const notes = doc.containers.flatMap((c: ContainerImageUpdate) => [
    ...(c.last ? [`${c.name}: ${c.last.message} (${c.last.at})`] : []),
    ...c.failed.map((f) => `${c.name}: never retried: ${image(f)} (${f.reason})`),
  ]);
  return `${lines.join('\n')}${table}${notes.length > 0 ? `\n${notes.join('\n')}\n` : ''}`;
}
