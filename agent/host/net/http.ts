/**
 * HTTP(S) GET (and the Omaha client's POST) for everything the agent downloads: images, signatures, keys, discovery
 * pages, update manifests and OS payloads. Redirects are followed (never from https down
 * to http; plain http only with `allowHttp`; credentials not passed on to another origin),
 * a byte range and extra headers can be asked for (HEAD too), a body shorter than its
 * Content-Length is an error, and small bodies are read with a size cap.
 *
 * Deadlines, so that no download waits forever: the TCP (and TLS) connection must be up
 * within `connectTimeoutMs`, the response headers must follow within `responseTimeoutMs`,
 * the socket may not be silent for `idleTimeoutMs`, and from the connection to its close
 * every `rateWindowMs` must bring at least `minBytesPerSecond` on average, headers and body
 * (curl's --speed-limit/--speed-time: a server that drips a few bytes now and then is given
 * up on). `signal` cancels at any point. Each ends the request with a typed error naming
 * the URL.
 *
 * Failures are AgentErrors named for the caller's domain (`errors`): `image.*` for the
 * image fetcher and key fetching (the default), `update.*` for the update channel, where
 * a transport failure is `update.fetch-failed` (worth a retry), except a download below
 * the minimum rate (`update.download-too-slow`) and a cancel (`update.cancelled`).
 */
import http, { type ClientRequest, type IncomingMessage } from 'node:http';
import https from 'node:https';
import { isIP, type Socket } from 'node:net';
import { Transform, type TransformCallback } from 'node:stream';
import { AgentError } from '../../core/errors.js';
import type { HttpResult } from '../../core/appc/discovery.js';

/** Whose error codes and hints failures carry. */
export type HttpErrorDomain = 'image' | 'update';

export interface HttpOptions {
  /** Plain http:// is refused unless true (`--insecure-options=http`). */
  allowHttp?: boolean;
  /** CA certificates (PEM) to trust instead of the system's; for tests and private CAs. */
  ca?: string | Buffer;
  /** A server sending nothing for this long is given up on. Default 30 s. */
  idleTimeoutMs?: number;
  /** The connection (TCP, and TLS for https) must be up within this. Default 30 s. */
  connectTimeoutMs?: number;
  /** Once connected, the response headers must arrive within this. Default 30 s. */
  responseTimeoutMs?: number;
  /** Slower than this on average over a window (headers and body) is given up on. Default 4096 B/s (32 kbit/s). */
  minBytesPerSecond?: number;
  /** The window of `minBytesPerSecond`. Default 30 s. */
  rateWindowMs?: number;
  /** Connect overrides, `"host:port" → "host:port"` (like curl's --connect-to); TLS still checks the original host. */
  connectTo?: Record<string, string>;
  maxRedirects?: number;
  /** Cancels the request, also mid-body (`<domain>.cancelled`). */
  signal?: AbortSignal;
  /** Default `image`. */
  errors?: HttpErrorDomain;
}

export interface GetOptions extends HttpOptions {
  /** Ask for the bytes from this offset on (`Range: bytes=N-`); the server may answer 200 anyway. */
  rangeStart?: number;
  /** Default GET; a HEAD response's body is empty (its `length` is the resource's). Ignored with `post`. */
  method?: 'GET' | 'HEAD';
  /**
   * More request headers, lowercase names (`accept` replaces the default, any type). An
   * `authorization` header is not sent on to a redirect's target on another origin.
   */
  headers?: Record<string, string>;
  /** POST this body instead of a GET (an Omaha request); redirects are followed with the same POST. */
  post?: { body: string; contentType: string };
}

export interface HttpResponse {
  status: number;
  /** The URL that answered, after redirects. */
  url: string;
  /** Content-Length, when the server sent one. */
  length: number | undefined;
  body: IncomingMessage;
  /** The domain of the errors about this response. */
  errors: HttpErrorDomain;
}

type Failure =
  | 'bad-url' | 'insecure-http' | 'tls-untrusted' | 'unreachable' | 'stalled' | 'truncated'
  | 'too-many-redirects' | 'not-found' | 'http-status' | 'server-error' | 'too-large'
  | 'connect-timeout' | 'no-response' | 'too-slow' | 'cancelled';

export const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;
export const DEFAULT_RESPONSE_TIMEOUT_MS = 30_000;
export const DEFAULT_MIN_BYTES_PER_SECOND = 4096;
export const DEFAULT_RATE_WINDOW_MS = 30_000;

const UPDATE_SERVER_HINT = 'Check that the update server is reachable from this host (coreos.update.server); the update is retried';

/** Code suffix and hint of each failure, per domain. */
const NAMES: Record<HttpErrorDomain, Record<Failure, [string, string]>> = {
  image: {
    'bad-url': ['bad-url', 'Give an https:// address or a file path'],
    'insecure-http': ['insecure-http', 'Use an https:// address, or --insecure-options=http if you accept that anyone on the network can change what is fetched'],
    'tls-untrusted': ['tls-untrusted', 'Check the address; for a private CA, set NODE_EXTRA_CA_CERTS=/path/ca.pem for agentd (Environment= in host-agent.service) and agentctl: Node does not read the system\'s trusted certificates'],
    unreachable: ['download-failed', 'Check the address and the network, then try again'],
    stalled: ['download-stalled', 'The server is stalled or the network is down: try again later'],
    truncated: ['download-truncated', 'The connection was cut: fetch again; nothing was stored'],
    'too-many-redirects': ['too-many-redirects', 'Check the address; the server redirects in a loop'],
    'not-found': ['not-found', 'Check the address'],
    'http-status': ['http-status', 'Try again later; if it persists, tell the server\'s operator'],
    'server-error': ['http-status', 'Try again later; if it persists, tell the server\'s operator'],
    'too-large': ['response-too-large', 'Check the address; this does not look like a signature, key or discovery page'],
    'connect-timeout': ['download-failed', 'Check the address and the network (a firewall dropping packets?), then try again'],
    'no-response': ['download-stalled', 'The server accepted the connection but does not answer: try again later'],
    'too-slow': ['download-too-slow', 'The server or the network is far too slow: try again later or fetch from another server'],
    cancelled: ['cancelled', 'The download was cancelled; nothing was stored. Fetch again when you want it'],
  },
  update: {
    'bad-url': ['bad-url', 'Use an http:// or https:// URL (coreos.update.server, payload.url)'],
    'insecure-http': ['insecure-http', 'The update server redirected from https to plain http; fix the server'],
    'tls-untrusted': ['fetch-failed', UPDATE_SERVER_HINT],
    unreachable: ['fetch-failed', UPDATE_SERVER_HINT],
    stalled: ['fetch-failed', UPDATE_SERVER_HINT],
    truncated: ['fetch-failed', UPDATE_SERVER_HINT],
    'too-many-redirects': ['http-status', 'Check the update server configuration; it redirects in a loop'],
    'not-found': ['http-status', 'Check the update server URL and group (coreos.update.server, coreos.update.group)'],
    'http-status': ['http-status', 'Check the update server'],
    'server-error': ['fetch-failed', UPDATE_SERVER_HINT],
    'too-large': ['too-large', 'Check that the URL names a release manifest or its signature'],
    'connect-timeout': ['fetch-failed', UPDATE_SERVER_HINT],
    'no-response': ['fetch-failed', UPDATE_SERVER_HINT],
    'too-slow': ['download-too-slow', 'The update server or the network is far too slow; the next periodic update tries again (agentctl update apply to try now)'],
    cancelled: ['cancelled', 'The update was cancelled (agentctl update reset, or agentd stopping); a partial download resumes on the next apply'],
  },
};

function netError(domain: HttpErrorDomain, failure: Failure, message: string, url: string, hint?: string, cause?: unknown): AgentError {
  const [code, defaultHint] = NAMES[domain][failure];
  return new AgentError({ code: `${domain}.${code}`, message, subject: url, hint: hint || defaultHint, cause });
}

function stalledError(domain: HttpErrorDomain, url: string, ms: number): AgentError {
  return netError(domain, 'stalled', `the server sent nothing for ${ms / 1000} s`, url);
}

function truncatedError(domain: HttpErrorDomain, url: string, got: number, expected: number | undefined, cause?: unknown): AgentError {
  const of = expected === undefined ? '' : ` of ${expected}`;
  return netError(domain, 'truncated', `the download ended early after ${got}${of} bytes`, url, undefined, cause);
}

function connectError(domain: HttpErrorDomain, url: string, e: NodeJS.ErrnoException): AgentError {
  const code = e.code ?? '';
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code)) {
    return netError(domain, 'tls-untrusted', `the server's TLS certificate is not trusted (${code})`, url, undefined, e);
  }
  return netError(domain, 'unreachable', `cannot reach the server (${code || e.message})`, url, undefined, e);
}

/**
 * The deadlines and the cancellation of one request: connect, then response headers, then
 * the minimum rate over each window (on the socket's bytes, from the connection to its
 * close). `fail` ends the request (and its response) with the error.
 */
function watchRequest(req: ClientRequest, url: URL, options: GetOptions, domain: HttpErrorDomain, fail: (e: AgentError) => void): void {
  const connectMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const responseMs = options.responseTimeoutMs ?? DEFAULT_RESPONSE_TIMEOUT_MS;
  const windowMs = options.rateWindowMs ?? DEFAULT_RATE_WINDOW_MS;
  const minRate = options.minBytesPerSecond ?? DEFAULT_MIN_BYTES_PER_SECOND;
  const timers = new Set<NodeJS.Timeout>();
  const after = (ms: number, fn: () => void): NodeJS.Timeout => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timers.add(timer);
    return timer;
  };
  const cancel = (timer: NodeJS.Timeout): void => {
    clearTimeout(timer);
    timers.delete(timer);
  };
  const onAbort = (): void => fail(netError(domain, 'cancelled', 'the download was cancelled', url.href));
  options.signal?.addEventListener('abort', onAbort, { once: true });
  req.on('close', () => {
    for (const timer of timers) clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
  });
  const connecting = after(connectMs, () => fail(netError(domain, 'connect-timeout', `no connection to the server within ${connectMs / 1000} s`, url.href)));

  const connected = (socket: Socket): void => {
    cancel(connecting);
    const noResponse = after(responseMs, () => fail(netError(domain, 'no-response', `the server accepted the connection but sent no response within ${responseMs / 1000} s`, url.href)));
    req.once('response', () => cancel(noResponse));
    let seen = 0;
    const window = (): void => {
      const got = socket.bytesRead - seen;
      seen = socket.bytesRead;
      if (got >= (minRate * windowMs) / 1000) {
        after(windowMs, window);
        return;
      }
      const rate = Math.round(got / (windowMs / 1000));
      fail(netError(domain, 'too-slow', `the server sent ${got} bytes in the last ${windowMs / 1000} s (${rate} B/s, below the minimum of ${minRate} B/s); ${seen} bytes received in all`, url.href));
    };
    after(windowMs, window);
  };
  req.on('socket', (socket: Socket) => {
    if (url.protocol === 'https:') socket.once('secureConnect', () => connected(socket));
    else if (socket.connecting) socket.once('connect', () => connected(socket));
    else connected(socket);
  });
}

function requestOnce(url: URL, options: GetOptions, domain: HttpErrorDomain): Promise<IncomingMessage> {
  const idle = options.idleTimeoutMs ?? 30_000;
  const secure = url.protocol === 'https:';
  const port = url.port || (secure ? '443' : '80');
  const target = options.connectTo?.[`${url.hostname}:${port}`];
  const [host, targetPort] = target ? [target.slice(0, target.lastIndexOf(':')), target.slice(target.lastIndexOf(':') + 1)] : [url.hostname, port];
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted) {
      reject(netError(domain, 'cancelled', 'the download was cancelled', url.href));
      return;
    }
    const req = (secure ? https : http).request({
      host,
      port: Number(targetPort),
      path: `${url.pathname}${url.search}`,
      method: options.post ? 'POST' : options.method ?? 'GET',
      headers: {
        host: url.host, 'user-agent': 'host-agent', accept: '*/*',
        ...(options.rangeStart ? { range: `bytes=${options.rangeStart}-` } : {}),
        ...options.headers,
        ...(options.post && { 'content-type': options.post.contentType, 'content-length': Buffer.byteLength(options.post.body) }),
      },
      agent: false,
      ...(secure && { ca: options.ca, servername: isIP(url.hostname) ? undefined : url.hostname }),
    });
    let response: IncomingMessage | undefined;
    const fail = (error: AgentError): void => {
      if (response) response.destroy(error);
      req.destroy(error);
    };
    watchRequest(req, url, options, domain, fail);
    req.setTimeout(idle, () => fail(stalledError(domain, url.href, idle)));
    req.on('response', (res) => {
      response = res;
      res.on('error', () => undefined); // surfaced by bodyMeter (res.errored) or the reader's own iteration
      resolve(res);
    });
    req.on('error', (e) => reject(e instanceof AgentError ? e : connectError(domain, url.href, e)));
    req.end(options.post?.body);
  });
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** GET `url`, following redirects. Any final status is returned; the caller decides (expectOk). */
export async function httpGet(url: string, options: GetOptions = {}): Promise<HttpResponse> {
  const domain = options.errors ?? 'image';
  let current: URL;
  try {
    current = new URL(url);
  } catch (e) {
    throw netError(domain, 'bad-url', 'not a valid URL', url, undefined, e);
  }
  let sent = options;
  for (let hops = 0; ; hops++) {
    if (current.protocol !== 'https:' && current.protocol !== 'http:') {
      throw netError(domain, 'bad-url', `unsupported URL scheme ${current.protocol}`, current.href);
    }
    if (current.protocol === 'http:' && !options.allowHttp) {
      throw netError(domain, 'insecure-http', 'refusing plain http', current.href);
    }
    const res = await requestOnce(current, sent, domain);
    const location = res.headers.location;
    if (REDIRECTS.has(res.statusCode ?? 0) && location) {
      res.resume();
      if (hops >= (options.maxRedirects ?? 5)) {
        throw netError(domain, 'too-many-redirects', 'too many redirects', url);
      }
      const next = new URL(location, current);
      if (current.protocol === 'https:' && next.protocol === 'http:') {
        throw netError(domain, 'insecure-http', `refusing a redirect from https down to plain http (${next.href})`, current.href);
      }
      if (next.origin !== current.origin && sent.headers?.authorization !== undefined) {
        const { authorization: _dropped, ...headers } = sent.headers;
        sent = { ...sent, headers };
      }
      current = next;
      continue;
    }
    const length = res.headers['content-length'] === undefined ? undefined : Number(res.headers['content-length']);
    return { status: res.statusCode ?? 0, url: current.href, length, body: res, errors: domain };
  }
}

/**
 * Throws a clear error for a non-2xx response; `what` names the thing fetched ("image",
 * "signature"), `hint404` (when not empty) replaces the domain's hint for 404 and 410.
 */
export function expectOk(res: HttpResponse, what: string, hint404: string): void {
  if (res.status >= 200 && res.status < 300) return;
  res.body.resume();
  if (res.status === 404 || res.status === 410) {
    throw netError(res.errors, 'not-found', `the server has no ${what} here (HTTP ${res.status})`, res.url, hint404);
  }
  throw netError(res.errors, res.status >= 500 ? 'server-error' : 'http-status', `the server answered HTTP ${res.status} for the ${what}`, res.url);
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
      cb(res.length !== undefined && done !== res.length ? truncatedError(res.errors, res.url, done, res.length) : null);
    },
  });
  const fail = (e?: unknown) => {
    const reason = e ?? res.body.errored; // a stall destroys the body with its own error
    meter.destroy(reason instanceof AgentError ? reason : truncatedError(res.errors, res.url, done, res.length, reason));
  };
  res.body.on('aborted', () => fail());
  res.body.on('error', fail);
  meter.on('close', () => {
    if (!res.body.readableEnded) res.body.destroy();
  });
  return res.body.pipe(meter);
}

/** Reads a small body (manifests, signatures, keys, HTML), at most `maxBytes`. */
export async function readBody(res: HttpResponse, maxBytes = 1 << 20): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  const meter = bodyMeter(res);
  for await (const chunk of meter) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) {
      res.body.destroy();
      throw netError(res.errors, 'too-large', `the response is larger than ${maxBytes} bytes`, res.url);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Reads a small body as UTF-8 text, at most `maxBytes`. */
export async function readText(res: HttpResponse, maxBytes = 1 << 20): Promise<string> {
  return (await readBody(res, maxBytes)).toString('utf8');
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
