/**
 * The merged configuration as plain data for `agentctl config show`: file contents as
 * text (base64 when not UTF-8), images as written, and no bookkeeping (origins).
 */
import type { HostConfig } from '../../core/config/types.js';

const decoder = new TextDecoder('utf-8', { fatal: true });

function plain(value: unknown): unknown {
  if (value instanceof Uint8Array) {
    try {
      return decoder.decode(value);
    } catch {
      return { encoding: 'base64', content: Buffer.from(value).toString('base64') };
    }
  }
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (k === 'origin' || v === undefined) continue;
      out[k] = plain(v);
    }
    return out;
  }
  return value;
}

/** A window as written: `{start, length}` without its parsed form. */
function windowAsWritten(w: { start: string; length: string } | undefined): unknown {
  return w && { start: w.start, length: w.length };
}

export function plainConfig(config: HostConfig): unknown {
  const out = plain(config) as Record<string, Record<string, unknown>>;
  out.containers = config.containers.map((c) => ({ ...(plain(c) as object), image: c.imageText })) as unknown as Record<string, unknown>;
  out.locksmith!.window = windowAsWritten(config.locksmith.window);
  out.images!.window = windowAsWritten(config.images.window);
  return JSON.parse(JSON.stringify(out)) as unknown;
}
