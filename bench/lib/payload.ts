/**
 * Benchmark payloads: incompressible bytes that depend only on their size, written 1 MiB
 * at a time (never the whole payload in memory), and a loopback server for the files of a
 * directory.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';

const MiB = 1024 ** 2;

/** Write `size` bytes (a multiple of 1 MiB) to `path`; returns their sha512. */
export async function makePayload(path: string, size: number): Promise<string> {
  const hash = createHash('sha512');
  const fh = await open(path, 'w');
  try {
    let block = createHash('sha512').update('payload').digest();
    const buf = Buffer.alloc(MiB);
    for (let written = 0; written < size; written += MiB) {
      for (let off = 0; off < MiB; off += 64) {
        block = off % 4096 === 0 ? createHash('sha512').update(block).digest() : block;
        block.copy(buf, off);
        buf.writeUInt32LE(written + off, off);
      }
      hash.update(buf);
      await fh.write(buf);
    }
  } finally {
    await fh.close();
  }
  return hash.digest('hex');
}

/** An HTTP server (not yet listening) for the files under `root`, with their Content-Length; 404 otherwise. */
export function fileServer(root: string): Server {
  return createServer((req, res) => {
    const path = join(root, new URL(req.url ?? '/', 'http://x').pathname);
    stat(path).then((s) => {
      res.writeHead(200, { 'content-length': String(s.size) });
      createReadStream(path, { highWaterMark: MiB }).pipe(res);
    }, () => res.writeHead(404).end());
  });
}
