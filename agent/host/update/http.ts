/**
 * Streaming HTTP(S) GET for the update channel: follows a few redirects, can ask for a byte
 * range, gives up on a silent connection, and turns transport failures into
 * `update.fetch-failed` (worth a retry) and unexpected statuses into `update.http-status`.
 */
import { get as httpGetRaw, type IncomingMessage } from 'node:http';
import { get as httpsGetRaw } from 'node:https';
import { AgentError } from '../../core/errors.js';

export interface HttpOptions {
  /** Extra CA certificates (PEM) for https servers. */
  ca?: string | Buffer;
  /** Abort the request (and the body stream). */
  signal?: AbortSignal;
  /** Give up when the connection is silent this long (also mid-body); default 60 s. */
  idleTimeoutMs?: number;
}

const MAX_REDIRECTS = 5;

function fetchFailed(url: string, cause: unknown): AgentError {
  return new AgentError({
    code: 'update.fetch-failed',
    message: `could not fetch: ${cause instanceof Error ? cause.message : String(cause)}`,
    subject: url,
    hint: 'Check that the update server is reachable from this host (coreos.update.server)',
    cause,
  });
}

function request(url: URL, headers: Record<string, string>, options: HttpOptions): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const onResponse = (res: IncomingMessage): void => resolve(res);
    let req;
    if (url.protocol === 'https:') {
      req = httpsGetRaw(url, { headers, ca: options.ca, signal: options.signal }, onResponse);
    } else if (url.protocol === 'http:') {
      req = httpGetRaw(url, { headers, signal: options.signal }, onResponse);
    } else {
      reject(new AgentError({ code: 'update.bad-url', message: `unsupported URL scheme ${url.protocol}`, subject: url.href, hint: 'Use an http:// or https:// URL' }));
      return;
    }
    const idle = options.idleTimeoutMs ?? 60_000;
    req.setTimeout(idle, () => req.destroy(new Error(`no data for ${idle} ms`)));
    req.on('error', (e) => reject(fetchFailed(url.href, e)));
  });
}

/**
 * GET `url` (optionally from byte `rangeStart` on) and return the response once its status
 * is 200, or 206 for a range request. The caller consumes or destroys the body.
 */
export async function httpGet(url: string, options: HttpOptions & { rangeStart?: number } = {}): Promise<IncomingMessage> {
  let target = new URL(url);
  const headers: Record<string, string> = options.rangeStart ? { range: `bytes=${options.rangeStart}-` } : {};
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const res = await request(target, headers, options);
    const status = res.statusCode ?? 0;
    if (status >= 300 && status < 400 && res.headers.location) {
      res.resume();
      target = new URL(res.headers.location, target);
      continue;
    }
    if (status === 200 || (status === 206 && options.rangeStart)) return res;
    res.resume();
    throw new AgentError({
      code: status >= 500 ? 'update.fetch-failed' : 'update.http-status',
      message: `the server answered ${status} ${res.statusMessage ?? ''}`.trim(),
      subject: target.href,
      hint: status === 404 ? 'Check the update server URL and group (coreos.update.server, coreos.update.group)' : 'Check the update server',
    });
  }
  throw new AgentError({ code: 'update.http-status', message: `more than ${MAX_REDIRECTS} redirects`, subject: url, hint: 'Check the update server configuration' });
}

/** The whole body of `url`, refused when longer than `limit` bytes (manifests, signatures). */
export async function httpGetSmall(url: string, limit: number, options: HttpOptions = {}): Promise<Buffer> {
  const res = await httpGet(url, options);
  const chunks: Buffer[] = [];
  let length = 0;
  try {
    for await (const chunk of res as AsyncIterable<Buffer>) {
      length += chunk.length;
      if (length > limit) {
        res.destroy();
        throw new AgentError({ code: 'update.too-large', message: `the response is larger than ${limit} bytes`, subject: url, hint: 'Check that the URL names a release manifest or its signature' });
      }
      chunks.push(chunk);
    }
  } catch (e) {
    throw e instanceof AgentError ? e : fetchFailed(url, e);
  }
  return Buffer.concat(chunks);
}
