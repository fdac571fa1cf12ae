/**
 * A loopback HTTP server for update tests: serves the files of one directory, honours
 * `Range: bytes=N-`, and can misbehave on purpose (throttle, drip, cut a download off once).
 * Every request is logged. Stopped when the test ends.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import { open, stat } from 'node:fs/promises';
import { join, normalize } from 'node:path';
import type { AddressInfo } from 'node:net';

interface HasAfter {
  after(fn: () => unknown): void;
}

export interface ServerBehaviour {
  /** Pause this long after each 64 KiB sent. */
  throttleMs?: number;
  /** Ignore Range headers (answer 200 with the whole file). */
  ignoreRange?: boolean;
  /** Cut the connection once, after this many body bytes of the next payload response. */
  cutOnceAfter?: number;
  /** Send payloads (not manifests) `bytes` every `everyMs` (a hostile or broken server). */
  drip?: { bytes: number; everyMs: number };
}

export interface TestServer {
  url: string;
  requests: Array<{ path: string; range?: string }>;
  behaviour: ServerBehaviour;
}

const PIECE = 64 * 1024;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Resolves when `res` can take more data or is gone. */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
    if (res.destroyed) done();
  });
}

export async function serveDir(t: HasAfter, dir: string, behaviour: ServerBehaviour = {}): Promise<TestServer> {
  const requests: TestServer['requests'] = [];
  const state: TestServer = { url: '', requests, behaviour };
  const server: Server = createServer((req, res) => {
    void (async () => {
      const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
      requests.push({ path, ...(req.headers.range !== undefined && { range: req.headers.range }) });
      let size: number;
      try {
        size = (await stat(join(dir, path))).size;
      } catch {
        res.writeHead(404).end();
        return;
      }
      const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
      const start = m && !state.behaviour.ignoreRange ? Number(m[1]) : 0;
      if (start >= size && size > 0) {
        res.writeHead(416, { 'content-range': `bytes */${size}` }).end();
        return;
      }
      res.writeHead(start > 0 ? 206 : 200, {
        'content-length': String(size - start),
        'accept-ranges': 'bytes',
        ...(start > 0 && { 'content-range': `bytes ${start}-${size - 1}/${size}` }),
      });
      const payload = /\.(img|gz|xz)$/.test(path);
      const cut = payload ? state.behaviour.cutOnceAfter : undefined;
      const drip = payload ? state.behaviour.drip : undefined;
      if (cut !== undefined) delete state.behaviour.cutOnceAfter;
      const fh = await open(join(dir, path), 'r');
      try {
        const buf = Buffer.alloc(drip?.bytes ?? PIECE);
        let sent = 0;
        for (let pos = start; pos < size && !res.destroyed; ) {
          const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, size - pos), pos);
          if (cut !== undefined && sent + bytesRead > cut) {
            res.write(buf.subarray(0, cut - sent));
            await sleep(5);
            res.destroy();
            return;
          }
          if (!res.write(buf.subarray(0, bytesRead))) await drained(res);
          pos += bytesRead;
          sent += bytesRead;
          if (state.behaviour.throttleMs) await sleep(state.behaviour.throttleMs);
          if (drip) await sleep(drip.everyMs);
        }
        if (!res.destroyed) res.end();
      } finally {
        await fh.close();
      }
    })().catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    return new Promise((r) => server.close(r));
  });
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return state;
}
