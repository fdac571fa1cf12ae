/**
 * Decompression of a payload stream: none, gzip (zlib) or xz (the `xz` tool as a child
 * process, its exit status checked). Streams end to end; the child is killed when the
 * consumer stops early.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { AgentError } from '../../core/errors.js';
import type { Compression } from '../../core/update/release.js';

export interface DecompressOptions {
  /** The xz program; default `xz` from PATH. */
  xzPath?: string;
  /** Names the payload in errors. */
  subject: string;
}

function corrupt(subject: string, detail: string, cause?: unknown): AgentError {
  return new AgentError({
    code: 'update.bad-payload',
    message: `the payload does not decompress: ${detail}`,
    subject,
    hint: 'The download was damaged or the release names the wrong compression; check the release on the server',
    cause,
  });
}

/** The decompressed bytes of `source`. */
export async function* decompress(source: Readable, compression: Compression, options: DecompressOptions): AsyncGenerator<Buffer> {
  if (compression === 'none') {
    yield* source as AsyncIterable<Buffer>;
    return;
  }
  if (compression === 'gzip') {
    const gunzip = createGunzip();
    pipeline(source, gunzip, () => undefined);
    try {
      yield* gunzip as AsyncIterable<Buffer>;
    } catch (e) {
      throw (e as NodeJS.ErrnoException).code?.startsWith('Z_') ? corrupt(options.subject, (e as Error).message, e) : e;
    } finally {
      source.destroy();
      gunzip.destroy();
    }
    return;
  }
  const child = spawn(options.xzPath ?? 'xz', ['--decompress', '--stdout', '--quiet'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = once(child, 'close') as Promise<[number | null, NodeJS.Signals | null]>;
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d.slice(0, 1000)));
  let sourceError: unknown;
  pipeline(source, child.stdin, (e) => {
    if (e && (e as NodeJS.ErrnoException).code !== 'EPIPE') sourceError = e;
  });
  let finished = false;
  try {
    yield* child.stdout as AsyncIterable<Buffer>;
    const [code] = await exited;
    finished = true;
    if (sourceError) throw sourceError;
    if (code !== 0) throw corrupt(options.subject, stderr.trim() || `xz exited with ${code}`);
  } finally {
    if (!finished) {
      source.destroy();
      child.kill('SIGKILL');
      await exited;
    }
  }
}
