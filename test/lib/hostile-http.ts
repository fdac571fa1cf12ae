/**
 * Hostile HTTP servers on loopback, for the download deadlines: one that drips a few
 * bytes now and then (headers at once, a long Content-Length), one that accepts TCP
 * connections but never answers, and a port where connecting never completes. All are
 * closed when the test ends.
 */
import { createServer as createHttpServer, type ServerResponse } from 'node:http';
import { spawn } from 'node:child_process';
import { connect, createServer as createTcpServer, type Socket, type AddressInfo } from 'node:net';

interface HasAfter {
  after(fn: () => unknown): void;
}

export interface DripOptions {
  /** Bytes per drop; default 1024. */
  bytes?: number;
  /** Between drops; default 500 ms. */
  everyMs?: number;
}

/** Serves every path as a 1 GiB body sent `bytes` every `everyMs`; `url` is its base; counts requests and closes. */
export async function dripServer(t: HasAfter, o: DripOptions = {}): Promise<{ url: string; requests: () => number; closed: () => number }> {
  let requests = 0;
  let closed = 0;
  const timers = new Set<NodeJS.Timeout>();
  const server = createHttpServer((_req, res: ServerResponse) => {
    requests++;
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
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests: () => requests, closed: () => closed };
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

/**
 * A port whose listener never accepts and whose accept queue is full, so a new
 * connection's SYN goes unanswered (the kernel drops it): a child node process listens
 * with a backlog of 1 and is stopped (SIGSTOP); two connections fill its queue. Killed by
 * its PID when the test ends.
 */
export async function unansweredPort(t: HasAfter): Promise<{ url: string }> {
  const child = spawn(process.execPath, ['-e', `
    const s = require('node:net').createServer();
    s.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => process.stdout.write(String(s.address().port) + '\\n'));
  `], { stdio: ['ignore', 'pipe', 'inherit'] });
  const fillers: Socket[] = [];
  t.after(() => {
    for (const s of fillers) s.destroy();
    if (child.pid !== undefined && child.exitCode === null) {
      process.kill(child.pid, 'SIGCONT');
      process.kill(child.pid, 'SIGKILL');
    }
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    child.once('exit', () => reject(new Error('the listener exited')));
  });
  process.kill(child.pid!, 'SIGSTOP');
  for (let i = 0; i < 4; i++) {
    const s = connect(port, '127.0.0.1');
    s.on('error', () => undefined);
    fillers.push(s);
  }
  await new Promise((r) => setTimeout(r, 200));
  return { url: `http://127.0.0.1:${port}` };
}
