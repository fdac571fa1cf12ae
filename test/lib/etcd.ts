/**
 * A real etcd (apt etcd-server, /usr/bin/etcd) for integration tests: one member on 127.0.0.1
 * free ports with a temp data dir, ready when /health says so, stopped by PID when the test
 * ends. `stop()` then `start()` restarts it on the same ports and data (to test outages).
 * Optional TLS: pass PEM file paths and the client URL becomes https with client certs required;
 * `makeTls` makes a throw-away CA and one certificate for 127.0.0.1 with openssl.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { createWriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { request as httpsRequest } from 'node:https';
import { readFile, writeFile } from 'node:fs/promises';
import { EtcdClient } from '../../agent/host/lock/etcd-client.js';
import { tmpdir } from './tmpdir.js';

export const ETCD_BINARY = '/usr/bin/etcd';

interface HasAfter {
  after(fn: () => unknown): void;
}

export interface EtcdTls {
  /** PEM files: the CA that signed both sides, the server's cert and key. */
  caFile: string;
  certFile: string;
  keyFile: string;
}

export interface EtcdOptions {
  tls?: EtcdTls;
  /** How long to wait for readiness, default 15 s. */
  readyTimeoutMs?: number;
}

export interface EtcdServer {
  /** Client URL, e.g. `http://127.0.0.1:40123`. */
  readonly endpoint: string;
  readonly dataDir: string;
  /** PID of the running etcd, or undefined while stopped. */
  readonly pid: number | undefined;
  /** Stop by PID (SIGTERM, or SIGKILL) and wait for the exit. */
  stop(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /** Start again on the same ports and data dir; resolves when ready. */
  start(): Promise<void>;
}

/** A TCP port free on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startEtcd(t: HasAfter, options: EtcdOptions = {}): Promise<EtcdServer> {
  const dir = await tmpdir(t, 'host-agent-etcd-');
  const dataDir = join(dir, 'data');
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  const scheme = options.tls ? 'https' : 'http';
  const endpoint = `${scheme}://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const args = [
    '--name', 'test',
    '--data-dir', dataDir,
    '--listen-client-urls', endpoint,
    '--advertise-client-urls', endpoint,
    '--listen-peer-urls', peer,
    '--initial-advertise-peer-urls', peer,
    '--initial-cluster', `test=${peer}`,
    '--logger', 'zap',
    '--log-level', 'warn',
    ...(options.tls
      ? ['--trusted-ca-file', options.tls.caFile, '--cert-file', options.tls.certFile,
          '--key-file', options.tls.keyFile, '--client-cert-auth']
      : []),
  ];
  const log = createWriteStream(join(dir, 'etcd.log'), { flags: 'a' });
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const ready = async (): Promise<void> => {
    const deadline = Date.now() + (options.readyTimeoutMs ?? 15_000);
    while (Date.now() < deadline) {
      if (server.pid === undefined) break; // it exited: the log says why
      if (await healthy(endpoint, options.tls)) return;
      await sleep(50);
    }
    const text = await readFile(join(dir, 'etcd.log'), 'utf8').catch(() => '');
    throw new Error(`etcd did not become ready at ${endpoint}; its log:\n${text.slice(-3000)}`);
  };

  const server: EtcdServer = {
    endpoint,
    dataDir,
    get pid() {
      return child && child.exitCode === null && child.signalCode === null ? child.pid : undefined;
    },
    async start() {
      if (server.pid !== undefined) return;
      const proc = spawn(ETCD_BINARY, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      proc.stdout.pipe(log, { end: false });
      proc.stderr.pipe(log, { end: false });
      exited = new Promise((resolve) => proc.once('exit', () => resolve()));
      child = proc;
      await ready();
    },
    async stop(signal = 'SIGTERM') {
      const pid = server.pid;
      if (pid === undefined) return;
      process.kill(pid, signal);
      await exited;
    },
  };
  t.after(async () => {
    await server.stop('SIGKILL');
    log.end();
  });
  await server.start();
  return server;
}

/** Whether etcd answers /health with health "true". */
async function healthy(endpoint: string, tls: EtcdTls | undefined): Promise<boolean> {
  try {
    if (!tls) {
      const res = await fetch(`${endpoint}/health`, { signal: AbortSignal.timeout(1000) });
      return res.ok && (await res.json() as { health?: string }).health === 'true';
    }
    const [ca, cert, key] = await Promise.all([tls.caFile, tls.certFile, tls.keyFile].map((f) => readFile(f)));
    return await new Promise<boolean>((resolve) => {
      const req = httpsRequest(`${endpoint}/health`, { ca, cert, key, timeout: 1000 }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve(res.statusCode === 200 && body.includes('"true"')));
      });
      req.on('error', () => resolve(false));
      req.on('timeout', () => req.destroy());
      req.end();
    });
  } catch {
    return false;
  }
}

/**
 * A CA and one certificate signed by it for IP 127.0.0.1, usable by both the server and the
 * client (serverAuth and clientAuth), as PEM files in `dir`.
 */
export async function makeTls(dir: string): Promise<EtcdTls> {
  const run = promisify(execFile);
  const f = (name: string) => join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await run('openssl', ['req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2',
    '-subj', '/CN=host-agent test CA']);
  await run('openssl', ['req', ...ec, '-keyout', f('node.key'), '-out', f('node.csr'), '-subj', '/CN=127.0.0.1']);
  await writeFile(f('ext.cnf'), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n');
  await run('openssl', ['x509', '-req', '-in', f('node.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'),
    '-CAcreateserial', '-out', f('node.pem'), '-days', '2', '-extfile', f('ext.cnf')]);
  return { caFile: f('ca.pem'), certFile: f('node.pem'), keyFile: f('node.key') };
}

/**
 * Every value `key` took, oldest first, read back from etcd's history one revision at a time
 * (nothing compacts it in tests). Empty when the key does not exist.
 */
export async function keyHistory(endpoint: string, key: string): Promise<string[]> {
  const client = new EtcdClient({ endpoints: [endpoint] });
  const now = await client.get(key);
  if (!now.kv) return [];
  const values: string[] = [];
  for (let rev = BigInt(now.kv.createRevision); rev <= BigInt(now.revision); rev++) {
    const { kv } = await client.get(key, String(rev));
    if (kv && kv.modRevision === String(rev)) values.push(kv.value); // else another key changed
  }
  return values;
}
