/**
 * Fetches the signatures of one manifest from a lookaside store: `signature-1`,
 * `signature-2`, … until the first that does not exist (HTTP 404/410, or a missing file for
 * file:// stores). http(s) goes through the project's HTTP client with its deadlines and
 * cancellation; plain http is allowed because the administrator named that URL in
 * registries.d and every signature is verified anyway. Each signature is size-bounded and
 * their number capped, so a hostile store cannot exhaust memory.
 */
import { open } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { AgentError } from '../../core/errors.js';
import { signatureUrl } from '../../core/oci/registries-d.js';
import type { DockerReference } from '../../core/oci/reference.js';
import { expectOk, httpGet, readBody, type HttpOptions } from '../net/http.js';

/** containers/image's bound for one signature. */
export const MAX_SIGNATURE_BYTES = 4 << 20;
/** More signatures than this for one manifest is a hostile store. */
export const MAX_SIGNATURES = 64;

export interface FetchedSignature {
  url: string;
  bytes: Uint8Array;
}

function tooLarge(url: string, what: string): AgentError {
  return new AgentError({
    code: 'image.response-too-large',
    message: what,
    subject: url,
    hint: 'Check the lookaside URL in registries.d; this does not look like a signature store',
  });
}

async function readFileSignature(url: string): Promise<Uint8Array | undefined> {
  let handle;
  try {
    handle = await open(fileURLToPath(url), 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new AgentError({ code: 'image.signature-unreadable', message: `cannot read the signature (${(e as NodeJS.ErrnoException).code})`, subject: url, hint: 'Check the lookaside directory named in registries.d', cause: e });
  }
  try {
    const buffer = Buffer.alloc(MAX_SIGNATURE_BYTES + 1);
    let size = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, size, buffer.length - size);
      if (bytesRead === 0) break;
      size += bytesRead;
      if (size > MAX_SIGNATURE_BYTES) throw tooLarge(url, `the signature is larger than ${MAX_SIGNATURE_BYTES} bytes`);
    }
    return buffer.subarray(0, size);
  } finally {
    await handle.close();
  }
}

async function readHttpSignature(url: string, options: HttpOptions): Promise<Uint8Array | undefined> {
  const res = await httpGet(url, { ...options, allowHttp: true });
  if (res.status === 404 || res.status === 410) {
    res.body.resume();
    return undefined;
  }
  expectOk(res, 'signature', '');
  return readBody(res, MAX_SIGNATURE_BYTES);
}

/** Every signature stored under `base` for `manifestDigest` of `ref`'s repository. */
export async function fetchSignatures(base: string, ref: DockerReference, manifestDigest: string, options: HttpOptions = {}): Promise<FetchedSignature[]> {
  const scheme = new URL(base).protocol;
  if (scheme !== 'file:' && scheme !== 'http:' && scheme !== 'https:') {
    throw new AgentError({ code: 'image.bad-url', message: `unsupported lookaside URL scheme ${scheme}`, subject: base, hint: 'Use an https://, http:// or file:// lookaside URL in registries.d' });
  }
  const out: FetchedSignature[] = [];
  for (let n = 1; ; n++) {
    const url = signatureUrl(base, ref, manifestDigest, n);
    if (options.signal?.aborted) {
      throw new AgentError({ code: 'image.cancelled', message: 'fetching the signatures was cancelled', subject: url, hint: 'Fetch the image again when you want it' });
    }
    const bytes = scheme === 'file:' ? await readFileSignature(url) : await readHttpSignature(url, options);
    if (bytes === undefined) return out;
    if (n > MAX_SIGNATURES) throw tooLarge(url, `the store holds more than ${MAX_SIGNATURES} signatures for one manifest`);
    out.push({ url, bytes });
  }
}
