/**
 * Hostile HTTP servers on loopback, for the download deadlines: one that drips a few
 * bytes now and then (headers at once, a long Content-Length), and one that accepts TCP
 * connections but never answers. Both are closed when the test ends.
 */
import { createServer as createHttpServer, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type Socket, type AddressInfo } from 'node:net';

interface HasAfter {
  after(fn: () => unknown): void;
}

export interface DripOptions {
  /** Bytes per drop; default 1024. */
  bytes?: number;
  /** Between drops; default 500 ms. */
  everyMs?: number;
}

/** Serves every path as a 1 GiB body sent `bytes` every `everyMs`; `url` is its base. */
export async function dripServer(t: HasAfter, o: DripOptions = {}): Promise<{ url: string; closed: () => number }> {
  let closed = 0;
  const timers = new Set<NodeJS.Timeout>();
  const server = createHttpServer((_req, res: ServerResponse) => {
    res.writeHead(200, { 'content-length': String(1 << 30) });
    const timer = setInterval(() => res.write(Buffer.alloc(o.bytes ?? 1024, 0x61)), o.everyMs ?? 500);
    timers.add(timer);
    res.on('close', () => {
      closed++;
      clearInterval(timer);
      timers.delete(timer);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => {
    for (const timer of timers) clearInterval(timer);
    server.closeAllConnections();
    return new Promise((r) => server.close(r));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, closed: () => closed };
}

/** Accepts connections and never sends a byte. */
export async function silentServer(t: HasAfter): Promise<{ url: string }> {
  const sockets = new Set<Socket>();
  const server = createTcpServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => {
    for (const s of sockets) s.destroy();
    return new Promise((r) => server.close(r));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}
