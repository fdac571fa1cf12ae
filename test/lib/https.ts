/**
 * A real HTTPS server on 127.0.0.1 for tests, with a throw-away CA made by openssl in test
 * set-up (the certificate names localhost, 127.0.0.1 and any test host names, such as
 * example.com, that clients reach through a connect override). It serves a directory (a
 * subdirectory's index.html as static servers do: /d redirects to /d/) and fixed pages,
 * logs requests, and injects faults per path: stall (headers and a few bytes,
 * then silence), truncate (close early despite Content-Length), an HTTP status or a redirect.
 * Stopped, with all its connections, when the test ends.
 */
import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join, normalize } from 'node:path';
import { promisify } from 'node:util';
import { tmpdir } from './tmpdir.js';

const run = promisify(execFile);

interface HasAfter {
  after(fn: () => unknown): void;
}

export type Fault =
  | { kind: 'stall'; afterBytes?: number }
  | { kind: 'truncate'; afterBytes: number }
  | { kind: 'status'; status: number }
  | { kind: 'redirect'; location: string };

export interface TestCa {
  /** PEM of the CA certificate, for clients. */
  ca: string;
  key: string;
  cert: string;
}

export interface TestHttpsServer {
  /** `https://127.0.0.1:PORT`. */
  url: string;
  port: number;
  ca: string;
  /** Served as files: `GET /a/b` reads `<root>/a/b`. */
  root: string;
  /** Pages served before files, by path (without the query). */
  pages: Map<string, string>;
  faults: Map<string, Fault>;
  /** Request paths (with query) in arrival order. */
  requests: string[];
  /** `connectTo` for the client: each test host name on port 443 and PORT → this server. */
  connectTo(hosts: string[]): Record<string, string>;
}

/** Makes a CA and a server certificate for localhost, 127.0.0.1 and `hosts`. */
export async function makeTestCa(t: HasAfter, hosts: string[] = []): Promise<TestCa> {
  const dir = await tmpdir(t, 'ca-');
  const p = (name: string) => join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  await run('openssl', ['req', '-x509', ...ec, '-keyout', p('ca.key'), '-out', p('ca.pem'), '-days', '2', '-subj', '/CN=host-agent test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  await run('openssl', ['req', ...ec, '-keyout', p('srv.key'), '-out', p('srv.csr'), '-subj', '/CN=localhost']);
  const san = ['DNS:localhost', 'IP:127.0.0.1', ...hosts.map((h) => `DNS:${h}`)].join(',');
  await writeFile(p('ext.cnf'), `subjectAltName=${san}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n`);
  await run('openssl', ['x509', '-req', '-in', p('srv.csr'), '-CA', p('ca.pem'), '-CAkey', p('ca.key'), '-CAcreateserial',
    '-out', p('srv.pem'), '-days', '2', '-extfile', p('ext.cnf')]);
  return { ca: await readFile(p('ca.pem'), 'utf8'), key: await readFile(p('srv.key'), 'utf8'), cert: await readFile(p('srv.pem'), 'utf8') };
}

/** Starts the server on a free loopback port; it serves `root` (a directory the test owns). */
export async function startHttpsServer(t: HasAfter, root: string, ca: TestCa): Promise<TestHttpsServer> {
  const pages = new Map<string, string>();
  const faults = new Map<string, Fault>();
  const requests: string[] = [];
  const server: Server = createServer({ key: ca.key, cert: ca.cert }, async (req, res) => {
    const url = new URL(req.url ?? '/', 'https://localhost');
    requests.push(`${url.pathname}${url.search}`);
    const fault = faults.get(url.pathname);
    if (fault?.kind === 'status') {
      res.writeHead(fault.status).end(`HTTP ${fault.status}\n`);
      return;
    }
    if (fault?.kind === 'redirect') {
      res.writeHead(302, { location: fault.location }).end();
      return;
    }
    const page = pages.get(url.pathname);
    if (page !== undefined) {
      res.writeHead(200, { 'content-type': 'text/html' }).end(page);
      return;
    }
    let file = join(root, normalize(decodeURIComponent(url.pathname)).replace(/^(\.\.[/\\])+/, ''));
    let info = await stat(file).catch(() => undefined);
    // A directory, as static web servers serve it: /dir redirects to /dir/, which is /dir/index.html.
    if (info?.isDirectory()) {
      if (!url.pathname.endsWith('/')) {
        res.writeHead(301, { location: `${url.pathname}/${url.search}` }).end();
        return;
      }
      file = join(file, 'index.html');
      info = await stat(file).catch(() => undefined);
    }
    if (!info?.isFile()) {
      res.writeHead(404).end('not found\n');
      return;
    }
    res.writeHead(200, { 'content-length': info.size, 'content-type': 'application/octet-stream' });
    if (fault?.kind === 'stall' || fault?.kind === 'truncate') {
      const end = Math.max(0, Math.min(info.size, fault.afterBytes ?? 1024) - 1);
      const part = createReadStream(file, { start: 0, end });
      part.pipe(res, { end: false });
      part.on('end', () => {
        if (fault.kind === 'truncate') res.socket?.destroy();
      });
      return;
    }
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const port = (server.address() as AddressInfo).port;
  return {
    url: `https://127.0.0.1:${port}`,
    port,
    ca: ca.ca,
    root,
    pages,
    faults,
    requests,
    connectTo(hosts) {
      return Object.fromEntries(hosts.flatMap((h) => [[`${h}:443`, `127.0.0.1:${port}`], [`${h}:${port}`, `127.0.0.1:${port}`]]));
    },
  };
}
