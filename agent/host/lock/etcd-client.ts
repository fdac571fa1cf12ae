/**
 * A minimal etcd v3 client over etcd's JSON gateway (`/v3/kv/range`, `/v3/kv/txn`,
 * `/v3/auth/authenticate`): read one key, create it if absent, and compare-and-swap it on its
 * mod revision. Keys and values travel base64-encoded; revisions stay strings (int64).
 *
 * Transport failures and "no leader" answers are retried with bounded backoff, moving to the
 * next endpoint each time; wrong credentials, missing permissions and TLS problems are not.
 * With a username, a token from /v3/auth/authenticate goes in the Authorization header and is
 * renewed once when etcd says it is no longer valid.
 */
import { AgentError, isAgentError } from '../../core/errors.js';
import { postJson, type TlsFiles } from './http.js';
import { withRetry, type RetryOptions } from './retry.js';

export interface EtcdClientOptions {
  /** Client URLs (coreos.locksmith endpoint, split on commas), e.g. `http://127.0.0.1:2379`. */
  endpoints: string[];
  tls?: TlsFiles;
  /** etcd v3 auth (etcd_username, etcd_password). */
  username?: string;
  password?: string;
  /** Per request, default 5000 ms. */
  timeoutMs?: number;
  retry?: RetryOptions;
}

export interface KeyValue {
  value: string;
  modRevision: string;
  createRevision: string;
  version: string;
}

export interface GetResult {
  /** Absent when the key does not exist (at that revision). */
  kv?: KeyValue;
  /** The store revision the answer reflects. */
  revision: string;
}

interface GatewayKv {
  key?: string;
  value?: string;
  mod_revision?: string;
  create_revision?: string;
  version?: string;
}

interface GatewayError {
  error?: string;
  message?: string;
  code?: number;
}

/** gRPC codes etcd answers with. */
const GRPC_DEADLINE_EXCEEDED = 4;
const GRPC_PERMISSION_DENIED = 7;
const GRPC_UNAVAILABLE = 14;
const GRPC_UNAUTHENTICATED = 16;

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
const unb64 = (text: string | undefined) => Buffer.from(text ?? '', 'base64').toString('utf8');

/** Errors worth another try: no answer, or an etcd without a leader for now. */
export function isTransientLockError(e: unknown): boolean {
  return isAgentError(e, 'lock.unreachable') || isAgentError(e, 'lock.etcd-unavailable');
}

export class EtcdClient {
  private next = 0;
  private token: string | undefined;

  constructor(private readonly options: EtcdClientOptions) {
    if (options.endpoints.length === 0) {
      throw new AgentError({
        code: 'lock.no-endpoint',
        message: 'no etcd endpoint is configured',
        hint: 'Set coreos.locksmith.endpoint, e.g. "http://10.0.0.1:2379"',
      });
    }
  }

  /** Read `key` (at `revision`, default the latest). */
  async get(key: string, revision?: string): Promise<GetResult> {
    const body = await this.call('/v3/kv/range', { key: b64(key), ...(revision && { revision }) }) as {
      header?: { revision?: string };
      kvs?: GatewayKv[];
    };
    const kv = body.kvs?.[0];
    return { revision: body.header?.revision ?? '0', ...(kv && { kv: toKeyValue(kv) }) };
  }

  /** Create `key` with `value` if it does not exist; true when this call created it. */
  async createIfAbsent(key: string, value: string): Promise<boolean> {
    return this.txn({ key: b64(key), target: 'VERSION', result: 'EQUAL', version: '0' }, key, value);
  }

  /** Replace the value if the key's mod revision is still `modRevision`; false if it moved. */
  async compareAndSwap(key: string, modRevision: string, value: string): Promise<boolean> {
    return this.txn({ key: b64(key), target: 'MOD', result: 'EQUAL', mod_revision: modRevision }, key, value);
  }

  private async txn(compare: Record<string, string>, key: string, value: string): Promise<boolean> {
    const body = await this.call('/v3/kv/txn', {
      compare: [compare],
      success: [{ request_put: { key: b64(key), value: b64(value) } }],
    }) as { succeeded?: boolean };
    return body.succeeded === true;
  }

  /** One gateway call with retries over transient failures and endpoints. */
  private async call(path: string, body: unknown): Promise<unknown> {
    return withRetry(() => this.callOnce(path, body), isTransientLockError, this.options.retry);
  }

  private async callOnce(path: string, body: unknown, renewedToken = false): Promise<unknown> {
    const endpoint = this.endpoint();
    try {
      const headers: Record<string, string> = {};
      const token = this.options.username === undefined ? '' : await this.authToken(endpoint);
      if (token !== '') headers.authorization = token;
      const res = await postJson(`${endpoint}${path}`, body, headers, this.httpOptions());
      if (res.status === 200 && typeof res.json === 'object' && res.json !== null) return res.json;
      const error = (res.json ?? {}) as GatewayError;
      if (error.code === GRPC_UNAUTHENTICATED && this.options.username !== undefined && !renewedToken) {
        this.token = undefined;
        return await this.callOnce(path, body, true);
      }
      throw gatewayError(endpoint, res.status, error, res.text);
    } catch (e) {
      if (isTransientLockError(e)) this.next++; // try the next endpoint on the next attempt
      throw e;
    }
  }

  private endpoint(): string {
    const { endpoints } = this.options;
    return endpoints[this.next % endpoints.length]!.replace(/\/+$/, '');
  }

  private httpOptions() {
    return {
      ...(this.options.tls && { tls: this.options.tls }),
      ...(this.options.timeoutMs !== undefined && { timeoutMs: this.options.timeoutMs }),
      ...(this.options.retry?.signal && { signal: this.options.retry.signal }),
    };
  }

  private async authToken(endpoint: string): Promise<string> {
    if (this.token !== undefined) return this.token;
    const res = await postJson(`${endpoint}/v3/auth/authenticate`, {
      name: this.options.username,
      password: this.options.password ?? '',
    }, {}, this.httpOptions());
    const answer = (res.json ?? {}) as GatewayError & { token?: string };
    if (res.status === 200 && typeof answer.token === 'string') {
      this.token = answer.token;
      return answer.token;
    }
    if (/authentication failed|invalid user ID or password/i.test(answer.error ?? '')) {
      throw new AgentError({
        code: 'lock.auth-failed',
        message: `etcd refused the username or password of "${this.options.username}"`,
        subject: endpoint,
        hint: 'Check etcd_username and etcd_password in coreos.locksmith',
      });
    }
    if (/authentication is not enabled/i.test(answer.error ?? '')) {
      // etcd without auth: send no token at all.
      this.token = '';
      return '';
    }
    throw gatewayError(endpoint, res.status, answer, res.text);
  }
}

function toKeyValue(kv: GatewayKv): KeyValue {
  return {
    value: unb64(kv.value),
    modRevision: kv.mod_revision ?? '0',
    createRevision: kv.create_revision ?? '0',
    version: kv.version ?? '0',
  };
}

/** The typed error for a gateway answer other than 200. */
function gatewayError(endpoint: string, status: number, error: GatewayError, text: string): AgentError {
  const said = error.error ?? error.message ?? (text.trim().slice(0, 200) || `HTTP ${status}`);
  if (/user name is empty/i.test(said)) {
    return new AgentError({
      code: 'lock.auth-required',
      message: 'etcd requires authentication',
      subject: endpoint,
      hint: 'Set etcd_username and etcd_password in coreos.locksmith',
    });
  }
  if (error.code === GRPC_PERMISSION_DENIED || error.code === GRPC_UNAUTHENTICATED) {
    return new AgentError({
      code: 'lock.permission-denied',
      message: `etcd denied the request: ${said}`,
      subject: endpoint,
      hint: 'Grant the etcd user read and write access to the coreos.com/updateengine/rebootlock/ keys',
    });
  }
  if (error.code === GRPC_UNAVAILABLE || error.code === GRPC_DEADLINE_EXCEEDED || status >= 500) {
    return new AgentError({
      code: 'lock.etcd-unavailable',
      message: `etcd cannot serve the request now: ${said}`,
      subject: endpoint,
      hint: 'Check the etcd cluster health (does it have a leader?)',
    });
  }
  return new AgentError({
    code: 'lock.etcd-error',
    message: `etcd answered HTTP ${status}: ${said}`,
    subject: endpoint,
    hint: 'Check that the endpoint is an etcd v3 client URL (etcd 3.4 or later)',
  });
}
