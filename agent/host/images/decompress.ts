/**
 * Streams an image's bytes through the decompressor its magic bytes call for: gzip with
 * zlib, bzip2 and xz through `bzip2 -dc` / `xz -dc` child processes (streaming, so memory
 * stays flat). The format comes from core/appc/compression's sniffing. A child is killed by its PID when the output is abandoned; a bad stream
 * becomes `image.corrupt-archive`.
 */
import { spawn } from 'node:child_process';
import { PassThrough, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { AgentError } from '../../core/errors.js';
import type { FileFormat } from '../../core/appc/compression.js';

/** The archive formats `sniffFormat` recognises; `tar` is uncompressed. */
export type ArchiveFormat = Extract<FileFormat, 'tar' | 'gzip' | 'bzip2' | 'xz'>;

function corrupt(image: string, kind: ArchiveFormat, detail: string, cause?: unknown): AgentError {
  return new AgentError({
    code: 'image.corrupt-archive',
    message: `the image is not valid ${kind} data (${detail})`,
    subject: image,
    hint: 'The file is damaged or not an App Container Image: fetch it again, or ask the publisher',
    cause,
  });
}

function viaChild(input: Readable, command: 'bzip2' | 'xz', image: string): Readable {
  const child = spawn(command, ['-dc'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => {
    if (stderr.length < 4096) stderr += s;
  });
  child.stdin.on('error', () => undefined); // EPIPE when the child fails; its exit status tells why
  input.on('error', (e) => out.destroy(e));
  input.pipe(child.stdin);
  child.stdout.pipe(out, { end: false });
  child.on('error', (e) => out.destroy(corrupt(image, command, `cannot run ${command}: ${e.message}`, e)));
  child.on('close', (code, signal) => {
    if (code === 0) out.end();
    else if (!out.destroyed) out.destroy(corrupt(image, command, stderr.trim().split('\n')[0] || `${command} exited with ${code ?? signal}`));
  });
  out.on('close', () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    input.destroy();
  });
  return out;
}

/** The uncompressed tar stream of `input`; `image` names it in errors. */
export function decompress(input: Readable, kind: ArchiveFormat, image: string): Readable {
  switch (kind) {
    case 'tar':
      return input;
    case 'gzip': {
      const gunzip = createGunzip({ chunkSize: 1 << 20 });
      const out = new PassThrough({ highWaterMark: 1 << 20 });
      input.on('error', (e) => out.destroy(e));
      gunzip.on('error', (e) => out.destroy(corrupt(image, 'gzip', e.message, e)));
      out.on('close', () => {
        gunzip.destroy();
        input.destroy();
      });
      return input.pipe(gunzip).pipe(out);
    }
    case 'bzip2':
    case 'xz':
      return viaChild(input, kind, image);
  }
}
