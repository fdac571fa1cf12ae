/**
 * A small FleetLock server for tests, on top of etcd through our own semaphore
 * (agent/host/lock/etcd-lock.ts), like Airlock: `POST /v1/pre-reboot` takes a slot of the
 * group's semaphore, `POST /v1/steady-state` frees it. Group `default` uses the default
 * semaphore key; others use `.../groups/<group>/semaphore`. Listens on 127.0.0.1, a free port;
 * closed when the test ends. Every request is recorded for assertions.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { describeError } from '../../agent/core/errors.js';
import { EtcdClient } from '../../agent/host/lock/etcd-client.js';
import { EtcdSemaphoreLock } from '../../agent/host/lock/etcd-lock.js';
import { DEFAULT_FLEETLOCK_GROUP } from '../../agent/host/lock/fleetlock.js';

interface HasAfter {
  after(fn: () => unknown): void;
}

export interface FleetLockRequest {
  op: string;
  id?: string;
  group?: string;
  status: number;
}

export interface FleetLockServer {
  /** Base URL for clients, e.g. `http://127.0.0.1:40124`. */
  readonly url: string;
  readonly requests: FleetLockRequest[];
  close(): Promise<void>;
}

export async function startFleetLockServer(t: HasAfter, etcdEndpoint: string): Promise<FleetLockServer> {
  const client = new EtcdClient({ endpoints: [etcdEndpoint], timeoutMs: 1000, retry: { attempts: 1 } });
  const requests: FleetLockRequest[] = [];

  const answer = (res: ServerResponse, status: number, body: object) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, body: string) => {
    const op = req.url?.replace(/^\/v1\//, '') ?? '';
    const record = (status: number, id?: string, group?: string) =>
      requests.push({ op, status, ...(id !== undefined && { id }), ...(group !== undefined && { group }) });
    if (req.method !== 'POST' || (op !== 'pre-reboot' && op !== 'steady-state')) {
      record(404);
      return answer(res, 404, { kind: 'not_found', value: `no such endpoint ${req.method} ${req.url}` });
    }
    if (req.headers['fleet-lock-protocol'] !== 'true') {
      record(400);
      return answer(res, 400, { kind: 'missing_header', value: 'the fleet-lock-protocol header must be "true"' });
    }
    let params: { id?: unknown; group?: unknown } | undefined;
    try {
      params = (JSON.parse(body) as { client_params?: typeof params }).client_params;
    } catch {
      params = undefined;
    }
    const id = params?.id;
    const group = params?.group ?? DEFAULT_FLEETLOCK_GROUP;
    if (typeof id !== 'string' || id === '' || typeof group !== 'string') {
      record(400);
      return answer(res, 400, { kind: 'bad_request', value: 'client_params needs a string id and group' });
    }
    const lock = new EtcdSemaphoreLock({ client, id, ...(group !== DEFAULT_FLEETLOCK_GROUP && { group }) });
    try {
      if (op === 'pre-reboot') {
        const result = await lock.acquire();
        if (!result.acquired) {
          record(409, id, group);
          return answer(res, 409, { kind: 'failed_lock', value: result.reason });
        }
      } else {
        await lock.release();
      }
      record(200, id, group);
      answer(res, 200, {});
    } catch (e) {
      record(500, id, group);
      answer(res, 500, { kind: 'etcd_error', value: describeError(e) });
    }
  };

  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => void handle(req, res, body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const close = () => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
  t.after(close);
  return { url: `http://127.0.0.1:${port}`, requests, close };
}
