/**
 * Builds App Container Image archives for tests with tar-stream's packer: good images
 * (a manifest and a busybox-static rootfs with its applet symlinks), compressed as plain
 * tar, gzip, bzip2 or xz, and malicious ones (path traversal, symlink escape, a file below
 * a symlinked directory, hardlink escape, a device node, a duplicate manifest). Content is
 * streamed, so large images do not sit in memory.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { pack, type Header } from 'tar-stream';

export type AciCompression = 'tar' | 'gzip' | 'bzip2' | 'xz';

/** One archive entry; `content` is the body of a file (bytes, text, a file to copy, or N random bytes). */
export type AciEntry = Partial<Header> & {
  name: string;
  content?: string | Buffer | { file: string } | { random: number };
};

export const BUSYBOX = '/bin/busybox';

/** An ImageManifest for `name` with the given labels (os/arch default to linux/amd64). */
export function imageManifest(name: string, labels: Record<string, string> = {}, extra: Record<string, unknown> = {}): string {
  const all = { version: '1.0.0', os: 'linux', arch: 'amd64', ...labels };
  return JSON.stringify({
    acKind: 'ImageManifest',
    acVersion: '0.8.11',
    name,
    labels: Object.entries(all).map(([n, value]) => ({ name: n, value })),
    app: { exec: ['/bin/sh', '-c', 'echo hello'], user: '0', group: '0' },
    ...extra,
  });
}

const MTIME = new Date('2024-01-02T03:04:05Z');

/** Entries of a small working rootfs: busybox-static and a few applet symlinks. */
export function busyboxRootfs(): AciEntry[] {
  return [
    { name: 'rootfs', type: 'directory', mode: 0o755 },
    { name: 'rootfs/bin', type: 'directory', mode: 0o755 },
    { name: 'rootfs/bin/busybox', mode: 0o755, content: { file: BUSYBOX } },
    ...['sh', 'ls', 'cat', 'echo'].map((applet): AciEntry => ({ name: `rootfs/bin/${applet}`, type: 'symlink', linkname: 'busybox' })),
    { name: 'rootfs/etc', type: 'directory', mode: 0o755 },
    { name: 'rootfs/etc/hostname', mode: 0o644, content: 'test\n' },
    { name: 'rootfs/etc/hostname.link', type: 'link', linkname: 'rootfs/etc/hostname' },
    { name: 'rootfs/usr', type: 'directory', mode: 0o755 },
    { name: 'rootfs/usr/bin', type: 'symlink', linkname: '/bin' },
    { name: 'rootfs/tmp', type: 'directory', mode: 0o1777 },
  ];
}

/** A complete good image: manifest first, then the busybox rootfs (plus `extra` entries). */
export function goodImage(name: string, labels: Record<string, string> = {}, extra: AciEntry[] = []): AciEntry[] {
  return [{ name: 'manifest', mode: 0o644, content: imageManifest(name, labels) }, ...busyboxRootfs(), ...extra];
}

function sizeOf(content: AciEntry['content']): number {
  if (content === undefined) return 0;
  if (typeof content === 'string') return Buffer.byteLength(content);
  if (Buffer.isBuffer(content)) return content.length;
  if ('file' in content) return statSync(content.file).size;
  return content.random;
}

function* randomChunks(total: number): Generator<Buffer> {
  for (let left = total; left > 0; left -= 1 << 20) yield randomBytes(Math.min(left, 1 << 20));
}

function body(content: NonNullable<AciEntry['content']>): Readable {
  if (typeof content === 'string' || Buffer.isBuffer(content)) return Readable.from([Buffer.from(content)]);
  if ('file' in content) return createReadStream(content.file);
  return Readable.from(randomChunks(content.random));
}

async function packEntries(entries: AciEntry[], out: Writable): Promise<void> {
  const packer = pack();
  const written = pipeline(packer, out);
  for (const { content, ...header } of entries) {
    const size = sizeOf(content);
    const mode = header.type === 'directory' ? 0o755 : header.type === 'symlink' ? 0o777 : 0o644;
    const full = { mtime: MTIME, mode, uid: 0, gid: 0, ...header, size };
    if (content === undefined || size === 0) {
      await new Promise<void>((resolve, reject) => packer.entry(full, Buffer.alloc(0), (e) => (e ? reject(e) : resolve())));
      continue;
    }
    await new Promise<void>((resolve, reject) => {
      const sink = packer.entry(full, (e) => (e ? reject(e) : resolve()));
      body(content).pipe(sink as unknown as Writable);
    });
  }
  packer.finalize();
  await written;
}

function compressor(kind: 'bzip2' | 'xz', file: string): { stdin: Writable; done: Promise<void> } {
  const child = spawn(kind, kind === 'xz' ? ['-c', '-0', '-T1'] : ['-c', '-1'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const written = pipeline(child.stdout, createWriteStream(file));
  const exited = new Promise<void>((resolve, reject) =>
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${kind} exited with ${code}`)))),
  );
  return { stdin: child.stdin, done: Promise.all([written, exited]).then(() => undefined) };
}

/** Writes `entries` as an archive at `file`, compressed as asked; returns `file`. */
export async function writeAci(file: string, entries: AciEntry[], compression: AciCompression = 'tar'): Promise<string> {
  if (compression === 'tar') {
    await packEntries(entries, createWriteStream(file));
  } else if (compression === 'gzip') {
    const gzip = createGzip();
    await Promise.all([packEntries(entries, gzip), pipeline(gzip, createWriteStream(file))]);
  } else {
    const { stdin, done } = compressor(compression, file);
    await Promise.all([packEntries(entries, stdin), done]);
  }
  return file;
}

/** Malicious archives, each otherwise a valid image named `name`. */
export function maliciousImage(kind: MaliciousKind, name: string): AciEntry[] {
  const manifest: AciEntry = { name: 'manifest', content: imageManifest(name) };
  const rootfs: AciEntry = { name: 'rootfs', type: 'directory' };
  const cases: Record<MaliciousKind, AciEntry[]> = {
    'path-traversal': [manifest, rootfs, { name: 'rootfs/../../escaped', content: 'pwned\n' }],
    'absolute-path': [manifest, rootfs, { name: '/tmp/escaped-absolute', content: 'pwned\n' }],
    'symlink-escape': [manifest, rootfs, { name: 'rootfs/up', type: 'symlink', linkname: '../../../../../../etc' }],
    'symlink-parent': [
      manifest,
      rootfs,
      { name: 'rootfs/etcdir', type: 'symlink', linkname: '/etc' },
      { name: 'rootfs/etcdir/escaped', content: 'pwned\n' },
    ],
    'hardlink-escape': [manifest, rootfs, { name: 'rootfs/passwd', type: 'link', linkname: '../../../../etc/passwd' }],
    'hardlink-absolute': [manifest, rootfs, { name: 'rootfs/passwd', type: 'link', linkname: '/etc/passwd' }],
    'device-node': [manifest, rootfs, { name: 'rootfs/sda', type: 'block-device', devmajor: 8, devminor: 0, mode: 0o600 }],
    'duplicate-manifest': [manifest, rootfs, { name: 'manifest', content: imageManifest('evil.example/other') }],
  };
  return cases[kind];
}

export type MaliciousKind =
  | 'path-traversal'
  | 'absolute-path'
  | 'symlink-escape'
  | 'symlink-parent'
  | 'hardlink-escape'
  | 'hardlink-absolute'
  | 'device-node'
  | 'duplicate-manifest';
