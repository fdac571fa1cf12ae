/**
 * A real OCI registry for integration tests: distribution's `docker-registry serve` (apt
 * docker-registry) with its own config, bound to 127.0.0.1 on a free port, storage in a temp
 * dir, ready when `GET /v2/` answers; stopped by PID when the test ends. Never the packaged
 * service, which listens on every interface.
 *
 * Optional token auth: pass `auth.token` (realm, service, issuer and the PEM certificate
 * bundle whose key signs the tokens) and the registry checks every request's bearer token.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort } from './etcd.js';
import { tmpdir } from './tmpdir.js';

export const REGISTRY_BINARY = '/usr/bin/docker-registry';

interface HasAfter {
  after(fn: () => unknown): void;
}

export interface RegistryTokenAuth {
  realm: string;
  service: string;
  issuer: string;
  /** PEM file with the certificate(s) whose keys sign the tokens. */
  rootCertBundle: string;
}

export interface RegistryOptions {
  auth?: { token: RegistryTokenAuth };
  /** How long to wait for readiness, default 15 s. */
  readyTimeoutMs?: number;
}

export interface Registry {
  /** `127.0.0.1:PORT`, the host part of references (`docker://127.0.0.1:PORT/repo:tag`). */
  readonly host: string;
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** Where the registry keeps its blobs and repositories. */
  readonly storageDir: string;
  readonly pid: number | undefined;
  stop(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startRegistry(t: HasAfter, options: RegistryOptions = {}): Promise<Registry> {
  const dir = await tmpdir(t, 'host-agent-registry-');
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const storageDir = join(dir, 'storage');
  const token = options.auth?.token;
  const config = [
    'version: 0.1',
    'log: {level: warn}',
    `storage: {filesystem: {rootdirectory: ${JSON.stringify(storageDir)}}, delete: {enabled: true}}`,
    `http: {addr: "${host}"}`,
    ...(token
      ? [`auth: {token: {realm: ${JSON.stringify(token.realm)}, service: ${JSON.stringify(token.service)}, ` +
          `issuer: ${JSON.stringify(token.issuer)}, rootcertbundle: ${JSON.stringify(token.rootCertBundle)}}}`]
      : []),
    '',
  ].join('\n');
  const configFile = join(dir, 'config.yml');
  await writeFile(configFile, config);
  const logFile = join(dir, 'registry.log');
  const log = createWriteStream(logFile, { flags: 'a' });
  const child: ChildProcess = spawn(REGISTRY_BINARY, ['serve', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const running = () => child.exitCode === null && child.signalCode === null;
  const registry: Registry = {
    host,
    url: `http://${host}`,
    storageDir,
    get pid() {
      return running() ? child.pid : undefined;
    },
    async stop(signal = 'SIGTERM') {
      if (!running() || child.pid === undefined) return;
      process.kill(child.pid, signal);
      await exited;
    },
  };
  t.after(async () => {
    await registry.stop('SIGKILL');
    log.end();
  });
  const deadline = Date.now() + (options.readyTimeoutMs ?? 15_000);
  while (Date.now() < deadline && running()) {
    try {
      const res = await fetch(`${registry.url}/v2/`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200 || res.status === 401) return registry;
    } catch {
      // not listening yet
    }
    await sleep(50);
  }
  const text = await readFile(logFile, 'utf8').catch(() => '');
  throw new Error(`docker-registry did not become ready at ${registry.url}; its log:\n${text.slice(-3000)}`);
}
