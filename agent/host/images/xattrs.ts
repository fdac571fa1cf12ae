/**
 * Extended attributes of archive entries (PAX `SCHILY.xattr.NAME` records, as GNU tar
 * writes them), restored after extraction by one `setfattr -h --restore=-` process fed
 * a getfattr dump: Node has no xattr API, and one process per image (only for images
 * that carry xattrs) costs a few milliseconds. Only the `user.` and `security.`
 * namespaces are restored (file capabilities, SELinux labels); `trusted.` and `system.`
 * are refused. tar-stream reads PAX values as UTF-8, so a binary value that is not valid
 * UTF-8 cannot be restored faithfully: it is refused rather than written wrong. A name or
 * value longer than Linux accepts (255 and 64 KiB bytes) is refused as it is read.
 */
import { spawn } from 'node:child_process';
import type { Header } from 'tar-stream';
import { AgentError } from '../../core/errors.js';

const PAX_PREFIX = 'SCHILY.xattr.';
const ALLOWED = /^(user|security)\./;
/** Linux's XATTR_NAME_MAX and XATTR_SIZE_MAX. */
const MAX_NAME_BYTES = 255;
const MAX_VALUE_BYTES = 64 * 1024;

export interface EntryXattrs {
  /** Path relative to the extraction directory. */
  path: string;
  attrs: Array<[name: string, value: string]>;
}

function refuse(image: string, entry: string, why: string, hint: string): AgentError {
  return new AgentError({ code: 'image.unsupported-xattr', message: `archive entry ${JSON.stringify(entry)} ${why}`, subject: image, hint });
}

/** The xattrs an entry's PAX header carries; throws for a namespace or value we do not restore. */
export function entryXattrs(header: Header, image: string): Array<[string, string]> {
  const pax = (header as Header & { pax?: Record<string, string> | null }).pax;
  if (!pax) return [];
  const attrs: Array<[string, string]> = [];
  for (const [key, value] of Object.entries(pax)) {
    if (!key.startsWith(PAX_PREFIX)) continue;
    const name = key.slice(PAX_PREFIX.length);
    if (!ALLOWED.test(name)) {
      throw refuse(image, header.name, `has the extended attribute ${name}, which images may not set`, 'Only user.* and security.* attributes are kept: rebuild the image without it');
    }
    if (value.includes('\uFFFD')) {
      throw refuse(image, header.name, `has a binary extended attribute ${name} that cannot be restored faithfully`, 'Rebuild the image without it (set capabilities in the container instead), or tell its publisher');
    }
    const nameBytes = Buffer.byteLength(name);
    const valueBytes = Buffer.byteLength(value);
    if (nameBytes > MAX_NAME_BYTES || valueBytes > MAX_VALUE_BYTES) {
      throw new AgentError({
        code: 'image.metadata-too-large',
        message: `archive entry ${JSON.stringify(header.name.slice(0, 256))} has an extended attribute of ${nameBytes} + ${valueBytes} bytes, more than Linux allows (${MAX_NAME_BYTES} for the name, ${MAX_VALUE_BYTES} for the value)`,
        subject: image,
        hint: 'The image is malformed or malicious and was not stored: do not use it, and tell its publisher',
      });
    }
    attrs.push([name, value]);
  }
  return attrs;
}

/** The bytes of `attrs`, names and values. */
export function xattrBytes(attrs: Array<[string, string]>): number {
  return attrs.reduce((sum, [name, value]) => sum + Buffer.byteLength(name) + Buffer.byteLength(value), 0);
}

/** getfattr's quoting: bytes outside printable ASCII, and backslash, as \ooo. */
function quote(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    out += byte > 0x20 && byte < 0x7f && byte !== 0x5c ? String.fromCharCode(byte) : `\\${byte.toString(8).padStart(3, '0')}`;
  }
  return out;
}

/** The `getfattr --dump -e hex` text that restores `entries`. */
export function xattrDump(entries: EntryXattrs[]): string {
  return entries
    .map((e) => `# file: ${quote(e.path)}\n${e.attrs.map(([n, v]) => `${quote(n)}=${v === '' ? '""' : `0x${Buffer.from(v, 'utf8').toString('hex')}`}`).join('\n')}\n`)
    .join('\n');
}

/** Applies `entries` under `dir` with one setfattr process (symlinks are not followed). */
export async function restoreXattrs(dir: string, entries: EntryXattrs[], image: string): Promise<void> {
  if (entries.length === 0) return;
  const child = spawn('setfattr', ['-h', '--restore=-'], { cwd: dir, stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => {
    if (stderr.length < 4096) stderr += s;
  });
  child.stdin.on('error', () => undefined); // the exit status says why
  child.stdin.end(xattrDump(entries));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  }).catch((e: NodeJS.ErrnoException) => {
    throw new AgentError({
      code: 'image.unsupported-xattr',
      message: `the image has extended attributes and setfattr cannot run (${e.code ?? e.message})`,
      subject: image,
      hint: 'Install the attr package (apt-get install attr)',
      cause: e,
    });
  });
  if (code !== 0) {
    throw new AgentError({
      code: 'image.unsupported-xattr',
      message: `cannot restore the image's extended attributes (${stderr.trim().split('\n')[0] || `setfattr exited with ${code}`})`,
      subject: image,
      hint: 'The store\'s file system must support extended attributes (user.* needs user_xattr; security.* needs root)',
    });
  }
}
