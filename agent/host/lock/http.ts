/**
 * JSON over HTTP(S) for the lock backends (etcd's v3 JSON gateway, FleetLock servers), with
 * the TLS options locksmith had (CA, client certificate and key, as PEM file paths) and a
 * timeout. Transport failures become typed errors: `lock.unreachable` (worth retrying) or
 * `lock.tls` (a configuration problem, not retried).
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { readFile } from 'node:fs/promises';
import { AgentError } from '../../core/errors.js';

export interface TlsFiles {
  /** PEM file of the CA that signed the server certificate (coreos.locksmith etcd_cafile). */
  caFile?: string;
  /** PEM client certificate and key (etcd_certfile, etcd_keyfile). */
  certFile?: string;
  keyFile?: string;
}

export interface HttpOptions {
  tls?: TlsFiles;
  /** Per request, default 5000 ms. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface JsonResponse {
  status: number;
  /** The parsed body, or undefined when it is empty or not JSON. */
  json: unknown;
  text: string;
}

/** TLS certificate problems name these codes (OpenSSL verify errors and Node's own). */
const TLS_CODES = /CERT|SELF_SIGNED|UNABLE_TO|ERR_TLS|ERR_SSL|EPROTO|HOSTNAME/;

async function readTls(tls: TlsFiles | undefined): Promise<{ ca?: Buffer; cert?: Buffer; key?: Buffer }> {
  const out: { ca?: Buffer; cert?: Buffer; key?: Buffer } = {};
  for (const [name, path] of [['ca', tls?.caFile], ['cert', tls?.certFile], ['key', tls?.keyFile]] as const) {
    if (!path) continue;
    try {
      out[name] = await readFile(path);
    } catch (cause) {
      throw new AgentError({
        code: 'lock.tls',
        message: `cannot read the TLS ${name} file`,
        subject: path,
        hint: 'Check the etcd_cafile, etcd_certfile and etcd_keyfile settings of coreos.locksmith',
        cause,
      });
    }
  }
  return out;
}

/** POST `body` as JSON to `url` and read the JSON answer, whatever the status. */
export async function postJson(
  url: string,
  body: unknown,
  headers: Record<string, string>,
  options: HttpOptions = {},
): Promise<JsonResponse> {
  const https = url.startsWith('https:');
  const tls = https ? await readTls(options.tls) : {};
  const payload = JSON.stringify(body);
  const send = https ? httpsRequest : httpRequest;
  return new Promise<JsonResponse>((resolve, reject) => {
    const req = send(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), ...headers },
      timeout: options.timeoutMs ?? 5000,
      ...(options.signal && { signal: options.signal }),
      ...tls,
    }, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', (e) => reject(transportError(url, e)));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = text === '' ? undefined : JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, json, text });
      });
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('request timed out'), { code: 'ETIMEDOUT' })));
    req.on('error', (e) => reject(transportError(url, e)));
    req.end(payload);
  });
}

/** The typed error for a request that got no HTTP answer. */
function transportError(url: string, e: Error & { code?: string }): AgentError | Error {
  if (e.name === 'AbortError') return e;
  const origin = new URL(url).origin;
  if (e.code && TLS_CODES.test(e.code)) {
    return new AgentError({
      code: 'lock.tls',
      message: `TLS with ${origin} failed: ${e.message}`,
      subject: origin,
      hint: 'Check that the CA file signed the server certificate and that the client certificate and key match',
      cause: e,
    });
  }
  return new AgentError({
    code: 'lock.unreachable',
    message: `cannot reach ${origin}: ${e.code ?? e.message}`,
    subject: origin,
    hint: 'Check the endpoint URL in the config and that the server runs and is reachable from this host',
    cause: e,
  });
}
