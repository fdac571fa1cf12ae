/**
 * HTTP(S) GET for images, signatures, keys and discovery pages: redirects (never from https
 * down to http unless allowed), an idle timeout against stalled servers, detection of
 * truncated bodies, and errors a person can act on. Bodies are streams; only small texts
 * (signatures, keys, HTML) are read into memory, with a size cap.
 */
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { Transform, type TransformCallback } from 'node:stream';
import { AgentError } from '../../core/errors.js';
import type { HttpResult } from '../../core/appc/discovery.js';

export interface HttpOptions {
  /** Plain http:// is refused unless true (`--insecure-options=http`). */
  allowHttp?: boolean;
  /** CA certificates (PEM) to trust instead of the system's; for tests and private CAs. */
  ca?: string | Buffer;
  /** A server sending nothing for this long is given up on. Default 30 s. */
  idleTimeoutMs?: number;
  /** Connect overrides, `"host:port" → "host:port"` (like curl's --connect-to); TLS still checks the original host. */
  connectTo?: Record<string, string>;
  maxRedirects?: number;
  signal?: AbortSignal;
}

export interface HttpResponse {
  status: number;
  /** The URL that answered, after redirects. */
  url: string;
  /** Content-Length, when the server sent one. */
  length: number | undefined;
  body: IncomingMessage;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

function httpError(code: string, message: string, url: string, hint: string, cause?: unknown): AgentError {
  return new AgentError({ code: `image.${code}`, message, subject: url, hint, cause });
}

function stalledError(url: string, ms: number): AgentError {
  return httpError('download-stalled', `the server sent nothing for ${ms / 1000} s`, url, 'The server is stalled or the network is down: try again later');
}

function truncatedError(url: string, got: number, expected: number | undefined, cause?: unknown): AgentError {
  const of = expected === undefined ? '' : ` of ${expected}`;
  return httpError('download-truncated', `the download ended early after ${got}${of} bytes`, url, 'The connection was cut: fetch again; nothing was stored', cause);
}

function connectError(url: string, e: NodeJS.ErrnoException): AgentError {
  const code = e.code ?? '';
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code)) {
    return httpError('tls-untrusted', `the server's TLS certificate is not trusted (${code})`, url, 'Check the address; a private CA must be added to the system\'s trusted certificates', e);
  }
  return httpError('download-failed', `cannot reach the server (${code || e.message})`, url, 'Check the address and the network, then try again', e);
}

function requestOnce(url: URL, options: HttpOptions): Promise<IncomingMessage> {
  const idle = options.idleTimeoutMs ?? 30_000;
  const secure = url.protocol === 'https:';
  const port = url.port || (secure ? '443' : '80');
  const target = options.connectTo?.[`${url.hostname}:${port}`];
  const [host, targetPort] = target ? [target.slice(0, target.lastIndexOf(':')), target.slice(target.lastIndexOf(':') + 1)] : [url.hostname, port];
  return new Promise((resolve, reject) => {
    const req = (secure ? https : http).request({
      host,
      port: Number(targetPort),
      path: `${url.pathname}${url.search}`,
      method: 'GET',
      headers: { host: url.host, 'user-agent': 'host-agent', accept: '*/*' },
      agent: false,
      ...(secure && { ca: options.ca, servername: isIP(url.hostname) ? undefined : url.hostname }),
      ...(options.signal && { signal: options.signal }),
    });
    let response: IncomingMessage | undefined;
    req.setTimeout(idle, () => {
      const error = stalledError(url.href, idle);
      if (response) response.destroy(error);
      req.destroy(error);
    });
    req.on('response', (res) => {
      response = res;
      resolve(res);
    });
    req.on('error', (e) => reject(e instanceof AgentError ? e : connectError(url.href, e)));
    req.end();
  });
}

/** GET `url`, following redirects. Any status is returned; the caller decides. */
export async function httpGet(url: string, options: HttpOptions = {}): Promise<HttpResponse> {
  let current: URL;
  try {
    current = new URL(url);
  } catch (e) {
    throw httpError('bad-url', 'not a valid URL', url, 'Give an https:// address or a file path', e);
  }
  for (let hops = 0; ; hops++) {
    if (current.protocol === 'http:' && !options.allowHttp) {
      throw httpError('insecure-http', 'refusing plain http', current.href, 'Use an https:// address, or --insecure-options=http if you accept that anyone on the network can change what is fetched');
    }
    if (current.protocol !== 'https:' && current.protocol !== 'http:') {
      throw httpError('bad-url', `unsupported URL scheme ${current.protocol}`, current.href, 'Give an https:// address or a file path');
    }
    const res = await requestOnce(current, options);
    const location = res.headers.location;
    if (REDIRECTS.has(res.statusCode ?? 0) && location) {
      res.resume();
      if (hops >= (options.maxRedirects ?? 5)) {
        throw httpError('too-many-redirects', 'too many redirects', url, 'Check the address; the server redirects in a loop');
      }
      current = new URL(location, current);
      continue;
    }
    const length = res.headers['content-length'] === undefined ? undefined : Number(res.headers['content-length']);
    return { status: res.statusCode ?? 0, url: current.href, length, body: res };
  }
}

/** Throws a clear error for a non-2xx response; `what` names the thing fetched ("image", "signature"). */
export function expectOk(res: HttpResponse, what: string, hint404: string): void {
  if (res.status >= 200 && res.status < 300) return;
  res.body.resume();
  if (res.status === 404 || res.status === 410) {
    throw httpError('not-found', `the server has no ${what} here (HTTP ${res.status})`, res.url, hint404);
  }
  throw httpError('http-status', `the server answered HTTP ${res.status} for the ${what}`, res.url, 'Try again later; if it persists, tell the server\'s operator');
}

/**
 * The body as a stream that counts bytes, reports progress and fails when the body ends
 * short of its Content-Length or the connection breaks mid-body.
 */
export function bodyMeter(res: HttpResponse, onProgress?: (done: number, total: number | undefined) => void): Transform {
  let done = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      done += chunk.length;
      onProgress?.(done, res.length);
      cb(null, chunk);
    },
    flush(cb: TransformCallback) {
      cb(res.length !== undefined && done !== res.length ? truncatedError(res.url, done, res.length) : null);
    },
  });
  const fail = (e?: unknown) => {
    const reason = e ?? res.body.errored; // a stall destroys the body with its own error
    meter.destroy(reason instanceof AgentError ? reason : truncatedError(res.url, done, res.length, reason));
  };
  res.body.on('aborted', () => fail());
  res.body.on('error', fail);
  return res.body.pipe(meter);
}

/** Reads a small body as text (signatures, keys, HTML), at most `maxBytes`. */
export async function readText(res: HttpResponse, maxBytes = 1 << 20): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  const meter = bodyMeter(res);
  for await (const chunk of meter) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) {
      res.body.destroy();
      throw httpError('response-too-large', `the response is larger than ${maxBytes} bytes`, res.url, 'Check the address; this does not look like a signature, key or discovery page');
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The `get` that core/appc discovery drives: status and body of a page; transport failures reject. */
export function pageGetter(options: HttpOptions): (url: string) => Promise<HttpResult> {
  return async (url) => {
    const res = await httpGet(url, options);
    if (res.status !== 200) {
      res.body.resume();
      return { status: res.status, body: '' };
    }
    return { status: 200, body: await readText(res) };
  };
}
