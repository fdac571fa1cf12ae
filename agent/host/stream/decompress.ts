/**
 * Streams bytes through a decompressor: gzip with zlib, bzip2 and xz through `bzip2 -dc` /
 * `xz -dc` child processes (streaming, so memory stays flat); `tar` and `none` pass
 * through. Used for images (format sniffed by core/appc/compression) and OS payloads
 * (format named by the release manifest). A child is killed by its PID when the output is
 * abandoned, its exit status is checked, and a bad stream becomes `image.corrupt-archive`
 * or `update.bad-payload`, as the caller's domain says.
 */
import { spawn } from 'node:child_process';
import { PassThrough, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { AgentError } from '../../core/errors.js';
import type { FileFormat } from '../../core/appc/compression.js';

/** The archive formats `sniffFormat` recognises; `tar` is uncompressed. */
export type ArchiveFormat = Extract<FileFormat, 'tar' | 'gzip' | 'bzip2' | 'xz'>;
/** Every format this module reads; `tar` and `none` both mean uncompressed. */
export type StreamFormat = ArchiveFormat | 'none';

export interface DecompressOptions {
  /** Whose error the caller gets: `image` (default) or `update`. */
  errors?: 'image' | 'update';
  /** The xz program; default `xz` from PATH. */
  xzPath?: string;
  /** The bzip2 program; default `bzip2` from PATH. */
  bzip2Path?: string;
}

const HWM = 1 << 20;

function corrupt(domain: 'image' | 'update', subject: string, kind: string, detail: string, cause?: unknown): AgentError {
  return domain === 'image'
    ? new AgentError({
      code: 'image.corrupt-archive',
      message: `the image is not valid ${kind} data (${detail})`,
      subject,
      hint: 'The file is damaged or not an App Container Image: fetch it again, or ask the publisher',
      cause,
    })
    : new AgentError({
      code: 'update.bad-payload',
      message: `the payload is not valid ${kind} data (${detail})`,
      subject,
      hint: 'The download was damaged or the release names the wrong compression; check the release on the server',
      cause,
    });
}

function viaChild(input: Readable, kind: 'bzip2' | 'xz', program: string, fail: (detail: string, cause?: unknown) => AgentError): Readable {
  const child = spawn(program, ['-dc'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const out = new PassThrough({ highWaterMark: HWM });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => {
    if (stderr.length < 4096) stderr += s;
  });
  child.stdin.on('error', () => undefined); // EPIPE when the child fails; its exit status tells why
  input.on('error', (e) => out.destroy(e));
  input.pipe(child.stdin);
  child.stdout.pipe(out, { end: false });
  child.on('error', (e) => out.destroy(fail(`cannot run ${program}: ${e.message}`, e)));
  child.on('close', (code, signal) => {
    if (code === 0) out.end();
    else if (!out.destroyed) out.destroy(fail(stderr.trim().split('\n')[0] || `${kind} exited with ${code ?? signal}`));
  });
  out.on('close', () => {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGKILL');
    input.destroy();
  });
  return out;
}

/** The uncompressed bytes of `input`; `subject` (the image or payload URL) names it in errors. */
export function decompress(input: Readable, kind: StreamFormat, subject: string, options: DecompressOptions = {}): Readable {
  const domain = options.errors ?? 'image';
  const fail = (detail: string, cause?: unknown): AgentError => corrupt(domain, subject, kind, detail, cause);
  switch (kind) {
    case 'tar':
    case 'none':
      return input;
    case 'gzip': {
      const gunzip = createGunzip({ chunkSize: HWM });
      const out = new PassThrough({ highWaterMark: HWM });
      input.on('error', (e) => out.destroy(e));
      gunzip.on('error', (e) => out.destroy(fail(e.message, e)));
      out.on('close', () => {
        gunzip.destroy();
        input.destroy();
      });
      return input.pipe(gunzip).pipe(out);
    }
    case 'bzip2':
      return viaChild(input, kind, options.bzip2Path ?? 'bzip2', fail);
    case 'xz':
      return viaChild(input, kind, options.xzPath ?? 'xz', fail);
  }
}
