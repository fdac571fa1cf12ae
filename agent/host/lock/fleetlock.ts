/**
 * FleetLock client (the protocol of Zincati and Airlock): `POST <base>/v1/pre-reboot` takes a
 * reboot slot, `POST <base>/v1/steady-state` gives it back. Every request carries the header
 * `fleet-lock-protocol: true` and the body `{"client_params":{"id":…,"group":…}}`. A 200 is
 * success; any other answer carries `{"kind":…,"value":…}`. Transport failures and 5xx
 * answers are retried with bounded backoff; a refusal (4xx) is an answer, not retried.
 */
import { AgentError, isAgentError } from '../../core/errors.js';
import { postJson, type JsonResponse, type TlsFiles } from './http.js';
import { withRetry, type RetryOptions } from './retry.js';
import type { AcquireResult, LockStatus, RebootLock } from './types.js';

/** The group a client names when none is configured, as Zincati does. */
export const DEFAULT_FLEETLOCK_GROUP = 'default';

export interface FleetLockOptions {
  /** Base URL of the FleetLock server, e.g. `https://lock.example.com`. */
  baseUrl: string;
  /** This host's id: its machine id. */
  id: string;
  group?: string;
  tls?: TlsFiles;
  /** Per request, default 5000 ms. */
  timeoutMs?: number;
  retry?: RetryOptions;
}

interface FleetLockError {
  kind?: unknown;
  value?: unknown;
}

const isTransient = (e: unknown) => isAgentError(e, 'lock.unreachable') || isAgentError(e, 'lock.fleetlock-unavailable');

export class FleetLockClient implements RebootLock {
  readonly backend = 'fleetlock' as const;
  private readonly group: string;

  constructor(private readonly options: FleetLockOptions) {
    this.group = options.group || DEFAULT_FLEETLOCK_GROUP;
  }

  async acquire(): Promise<AcquireResult> {
    const res = await this.post('pre-reboot');
    if (res.status === 200) return { acquired: true };
    return { acquired: false, reason: `the FleetLock server refused: ${refusal(res)}` };
  }

  async release(): Promise<void> {
    const res = await this.post('steady-state');
    if (res.status === 200) return;
    throw new AgentError({
      code: 'lock.release-refused',
      message: `the FleetLock server refused to release the slot: ${refusal(res)}`,
      subject: this.url('steady-state'),
      hint: 'Check the server log; the agent tries again on its next pass',
    });
  }

  async status(): Promise<LockStatus> {
    return { backend: this.backend, id: this.options.id, group: this.group, held: undefined };
  }

  private url(op: 'pre-reboot' | 'steady-state'): string {
    return `${this.options.baseUrl.replace(/\/+$/, '')}/v1/${op}`;
  }

  /** POST one operation; answers anything below 500, retries the rest. */
  private async post(op: 'pre-reboot' | 'steady-state'): Promise<JsonResponse> {
    const url = this.url(op);
    const body = { client_params: { id: this.options.id, group: this.group } };
    return withRetry(async () => {
      const res = await postJson(url, body, { 'fleet-lock-protocol': 'true' }, {
        ...(this.options.tls && { tls: this.options.tls }),
        ...(this.options.timeoutMs !== undefined && { timeoutMs: this.options.timeoutMs }),
        ...(this.options.retry?.signal && { signal: this.options.retry.signal }),
      });
      if (res.status < 500) return res;
      throw new AgentError({
        code: 'lock.fleetlock-unavailable',
        message: `the FleetLock server failed: ${refusal(res)}`,
        subject: url,
        hint: 'Check the FleetLock server and its own backend (etcd)',
      });
    }, isTransient, this.options.retry);
  }
}

/** `kind: value` of a FleetLock error body, or the status and raw text. */
function refusal(res: JsonResponse): string {
  const error = (res.json ?? {}) as FleetLockError;
  if (typeof error.kind === 'string') {
    return typeof error.value === 'string' && error.value !== '' ? `${error.kind}: ${error.value}` : error.kind;
  }
  return `HTTP ${res.status} ${res.text.trim().slice(0, 200)}`.trim();
}
