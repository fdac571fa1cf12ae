/**
 * Safe extraction of an image archive's tar stream into a fresh directory that only this
 * extraction writes to. Where entries may go is a layout policy: an ACI (only `manifest`
 * and `rootfs/`, nothing twice, checked by core/appc/layout; links resolve inside
 * `rootfs/`) or an OCI layer (entries at the root of the tar; whiteouts, core/oci/whiteout,
 * become overlayfs whiteouts as they are extracted: `.wh.NAME` a 0/0 character device
 * `NAME`, `.wh..wh..opq` the attribute `trusted.overlay.opaque=y` on its directory).
 * Invariants, the same for both and checked per entry before anything is written:
 * - no entry escapes the tree: no absolute names, no `..`, no entry below a symlink
 *   (nothing is ever written through a symlinked parent directory), hardlinks point at an
 *   earlier entry inside the tree (not at a symlink, not through one);
 * - symlinks are resolved as the kernel would inside rootfs, chains included
 *   (core/appc/symlinks): one that leads above the root, or loops, is refused; every link
 *   is checked when it comes and again at the end, as a later link can lengthen a chain;
 * - a non-directory entry appears once; device nodes only when allowed (FIFOs always);
 * - entry count and unpacked size (content and metadata) stay under the limits
 *   (decompression bombs); an entry's metadata (PAX records, long names) and the
 *   extended attributes kept for the end are bounded, so memory stays flat on any archive.
 *   tar-stream itself holds one metadata header at a time and refuses one over 4 MiB.
 * Modes, mtimes and (as root) ownership are kept; directory metadata is applied last so
 * that creating children does not undo it; extended attributes (PAX SCHILY.xattr.*) are
 * restored at the very end, after owners (a chown clears file capabilities), by
 * xattrs.ts. Nothing is held whole in memory.
 */
import { execFile } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { chmod, lchown, link, lstat, lutimes, mkdir, rm, symlink, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { extract as tarExtract, type Extract, type Header } from 'tar-stream';
import { AgentError } from '../../core/errors.js';
import { createLayoutChecker } from '../../core/appc/layout.js';
import { MAX_SYMLINK_HOPS, resolveSymlink } from '../../core/appc/symlinks.js';
import { layerEntryKind } from '../../core/oci/whiteout.js';
import { entryXattrs, restoreXattrs, xattrBytes, type EntryXattrs } from './xattrs.js';

const run = promisify(execFile);

export interface ExtractLimits {
  /** Most entries an image may have. */
  maxEntries: number;
  /**
   * Most bytes an image may unpack to, file content and metadata (PAX records, long names)
   * together: agentd's --max-image-size, by default the store's free space less a reserve.
   */
  maxBytes: number;
  /** Largest manifest accepted. */
  maxManifestBytes: number;
  /** Most metadata one entry may carry (PAX records and long names). */
  maxEntryMetadataBytes: number;
  /** Most bytes of extended attributes an image may carry (they are kept until the end). */
  maxXattrBytes: number;
}

/** The limits but the unpacked size, which depends on the host (fetch.ts). */
export const DEFAULT_EXTRACT_LIMITS: Omit<ExtractLimits, 'maxBytes'> = {
  maxEntries: 1_000_000,
  maxManifestBytes: 1024 ** 2,
  maxEntryMetadataBytes: 256 * 1024,
  maxXattrBytes: 16 * 1024 ** 2,
};

/** What the unpacked-size limit is, for hints. */
export const MAX_BYTES_SETTING = "agentd's --max-image-size (default: the image store's free space less a reserve)";

/** One entry's metadata in bytes: its PAX records (as tar stores them, roughly) and names. */
function metadataBytes(header: Header): number {
  const pax = (header as Header & { pax?: Record<string, string> | null }).pax ?? {};
  let bytes = Buffer.byteLength(header.name) + Buffer.byteLength(header.linkname ?? '');
  for (const [key, value] of Object.entries(pax)) bytes += Buffer.byteLength(key) + Buffer.byteLength(value) + 4;
  return bytes;
}

/** The entry's metadata in bytes; refuses an entry with more than `limit`. */
export function checkEntryMetadata(header: Header, image: string, limit: number): number {
  const bytes = metadataBytes(header);
  if (bytes > limit) {
    throw new AgentError({
      code: 'image.metadata-too-large',
      message: `archive entry ${JSON.stringify(header.name.slice(0, 256))} carries ${bytes} bytes of metadata (PAX records and names), more than the ${limit} an entry may have`,
      subject: image,
      hint: 'No genuine image needs this much (an extended attribute holds at most 64 KiB): the image is malformed or malicious and was not stored; tell its publisher',
    });
  }
  return bytes;
}

export interface ExtractOptions {
  /** The image (name or source) for messages. */
  image: string;
  limits: ExtractLimits;
  /** Create character and block devices (only for trusted images that need them). */
  allowDevices: boolean;
  /** Keep the archive's uid/gid; needs root. */
  keepOwnership: boolean;
}

/** Where an entry goes: nowhere (the archive's own root), as itself, or as an overlayfs whiteout or opaque marker. */
export type Placement =
  | { kind: 'skip' }
  | { kind: 'entry' }
  | { kind: 'whiteout'; path: string[] }
  | { kind: 'opaque'; dir: string[] };

/** The rules of one archive format: where its entries may go and where its tree's root is. */
export interface ArchiveLayout {
  /** Checks the entry (`parts`: its clean components) and says where it goes; throws when it does not belong. */
  place(header: Header, parts: string[]): Placement;
  /** How many leading components of `parts` are above the tree's root (symlinks resolve inside it). */
  rootDepth(parts: string[]): number;
  /** Checks the archive was complete; called after the last entry. */
  finish(): void;
}

/** An ACI: `manifest` (at most `maxManifestBytes`) and the tree under `rootfs/`. */
export function aciLayout(limits: ExtractLimits, image: string): ArchiveLayout {
  const checker = createLayoutChecker();
  return {
    place(header, parts) {
      const placed = checker.add({ name: header.name, type: header.type ?? 'file' });
      if (placed.kind === 'skip') return placed;
      if (placed.kind === 'manifest' && (header.size ?? 0) > limits.maxManifestBytes) {
        throw unsafe(image, header.name, `is larger than ${limits.maxManifestBytes} bytes`);
      }
      return parts.length > 0 ? { kind: 'entry' } : { kind: 'skip' };
    },
    rootDepth: (parts) => (parts[0] === 'rootfs' ? 1 : 0),
    finish: () => checker.finish(),
  };
}

/** An OCI layer: the tree at the root of the tar, with whiteouts. */
export function ociLayerLayout(image: string): ArchiveLayout {
  return {
    place(_header, parts) {
      if (parts.length === 0) return { kind: 'skip' };
      const kind = layerEntryKind(parts, image);
      return kind.kind === 'ignore' ? { kind: 'skip' } : kind;
    },
    rootDepth: () => 0,
    finish: () => undefined,
  };
}

export interface ExtractResult {
  entries: number;
  /** Bytes of file content written. */
  bytes: number;
}

function unsafe(image: string, entry: string, why: string): AgentError {
  return new AgentError({
    code: 'image.unsafe-archive',
    message: `archive entry ${JSON.stringify(entry)} ${why}`,
    subject: image,
    hint: 'The image is malformed or malicious and was not stored: do not use it, and tell its publisher',
  });
}

/** The entry's path as components; refuses absolute names and `..`. */
export function entryComponents(name: string, image: string): string[] {
  if (name.includes('\0')) throw unsafe(image, name, 'has a NUL byte in its name');
  if (name.startsWith('/')) throw unsafe(image, name, 'has an absolute path');
  const parts = name.split('/').filter((c) => c !== '' && c !== '.');
  if (parts.includes('..')) throw unsafe(image, name, 'climbs out of the image with ".."');
  return parts;
}

/** One entry's body as tar-stream gives it (a streamx Readable). */
type TarEntry = Extract extends AsyncIterable<infer E> ? E : never;

interface DirMeta {
  path: string;
  mode: number;
  uid: number;
  gid: number;
  mtime: Date;
}

class Extraction {
  /** Symlinks made so far, by path below dest, with their targets. */
  private readonly symlinks = new Map<string, string>();
  /** Whiteouts made so far (character devices a hardlink must not share). */
  private readonly whiteouts = new Set<string>();
  private readonly dirs = new Map<string, DirMeta>();
  private readonly xattrs: EntryXattrs[] = [];
  private entries = 0;
  private bytes = 0;
  private xattrBytes = 0;

  constructor(private readonly dest: string, private readonly layout: ArchiveLayout, private readonly options: ExtractOptions) {}

  private refuse(name: string, why: string): never {
    throw unsafe(this.options.image, name, why);
  }

  /** Refuses `parts` when any of its parents is a symlink made by an earlier entry. */
  private checkParents(name: string, parts: string[]): void {
    for (let i = 1; i < parts.length; i++) {
      if (this.symlinks.has(parts.slice(0, i).join('/'))) this.refuse(name, `lies below the symlink ${parts.slice(0, i).join('/')}`);
    }
  }

  /** Resolves the symlink at `parts` (with the links known now) and refuses it when it escapes or loops. */
  private checkSymlinkTarget(name: string, parts: string[], target: string): void {
    if (target === '' || target.includes('\0')) this.refuse(name, 'is a symlink without a valid target');
    const root = parts.slice(0, this.layout.rootDepth(parts));
    const readlink = (path: string): string | undefined => this.symlinks.get([...root, path].join('/'));
    const resolved = resolveSymlink(parts.slice(root.length, -1), target, readlink);
    if (resolved.kind === 'escape') this.refuse(name, `is a symlink to ${JSON.stringify(target)}, which leads outside the image`);
    if (resolved.kind === 'loop') this.refuse(name, `is a symlink to ${JSON.stringify(target)}, which does not resolve (more than ${MAX_SYMLINK_HOPS} links)`);
  }

  private count(name: string, size: number): void {
    const { maxEntries, maxBytes } = this.options.limits;
    if (++this.entries > maxEntries) {
      throw new AgentError({
        code: 'image.too-many-entries',
        message: `the archive has more than ${maxEntries} entries`,
        subject: this.options.image,
        hint: 'No genuine image has this many files (the limit is fixed): the image is malformed or malicious and was not stored; tell its publisher',
      });
    }
    this.bytes += size;
    if (this.bytes > maxBytes) {
      throw new AgentError({
        code: 'image.too-large',
        message: `the archive unpacks to more than ${maxBytes} bytes (at ${JSON.stringify(name)})`,
        subject: this.options.image,
        hint: `The limit is ${MAX_BYTES_SETTING}: if this image is genuine, make room in the store or raise that setting`,
      });
    }
  }

  private async setOwner(path: string, header: Header): Promise<void> {
    if (this.options.keepOwnership) await lchown(path, header.uid ?? 0, header.gid ?? 0);
  }

  private async created(name: string, make: () => Promise<unknown>): Promise<void> {
    try {
      await make();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') this.refuse(name, 'appears twice');
      throw e;
    }
  }

  async entry(header: Header, body: TarEntry): Promise<void> {
    const name = header.name;
    const parts = entryComponents(name, this.options.image);
    const type = header.type ?? 'file';
    const size = type === 'file' || type === 'contiguous-file' ? header.size ?? 0 : 0;
    this.count(name, size + checkEntryMetadata(header, this.options.image, this.options.limits.maxEntryMetadataBytes));
    const placement = this.layout.place(header, parts);
    if (placement.kind === 'skip') {
      body.resume();
      return; // the archive's own root, "./", or bookkeeping of another tool
    }
    if (placement.kind === 'whiteout') return this.whiteout(name, placement.path, body);
    if (placement.kind === 'opaque') return this.opaque(name, placement.dir, body);
    this.checkParents(name, parts);
    const rel = parts.join('/');
    const attrs = entryXattrs(header, this.options.image);
    if (attrs.length > 0) this.keepXattrs(name, { path: rel, attrs });
    const path = join(this.dest, ...parts);
    const mode = (header.mode ?? 0o644) & 0o7777;
    await this.makeParents(name, parts);
    if (this.whiteouts.delete(rel)) await this.replaceWhiteout(rel, path, type);

    switch (type) {
      case 'directory': {
        try {
          await mkdir(path, { mode: 0o700 });
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
          if (!(await lstat(path)).isDirectory()) this.refuse(name, 'appears twice');
        }
        this.dirs.set(rel, { path, mode, uid: header.uid ?? 0, gid: header.gid ?? 0, mtime: header.mtime ?? new Date(0) });
        body.resume();
        return;
      }
      case 'file':
      case 'contiguous-file': {
        await this.created(name, () => pipeline(body, createWriteStream(path, { flags: 'wx', mode: 0o600, highWaterMark: 1 << 20 })));
        break;
      }
      case 'symlink': {
        this.checkSymlinkTarget(name, parts, header.linkname ?? '');
        body.resume();
        await this.created(name, () => symlink(header.linkname!, path));
        this.symlinks.set(rel, header.linkname!);
        await this.setOwner(path, header);
        if (header.mtime) await lutimes(path, header.mtime, header.mtime);
        return;
      }
      case 'link': {
        const target = entryComponents(header.linkname ?? '', this.options.image);
        if (target.length === 0) this.refuse(name, 'is a hardlink without a target');
        this.checkParents(name, [...target, '']);
        if (this.symlinks.has(target.join('/'))) this.refuse(name, `is a hardlink to the symlink ${target.join('/')}`);
        if (this.whiteouts.has(target.join('/'))) this.refuse(name, `is a hardlink to the whiteout ${target.join('/')}`);
        body.resume();
        try {
          await this.created(name, () => link(join(this.dest, ...target), path));
        } catch (e) {
          if (e instanceof AgentError) throw e;
          this.refuse(name, `is a hardlink to ${JSON.stringify(header.linkname)}, which is not an earlier file of the image`);
        }
        return; // shares the target's inode, metadata included
      }
      case 'character-device':
      case 'block-device':
      case 'fifo': {
        if (type !== 'fifo' && !this.options.allowDevices) this.refuse(name, 'is a device node, which images may not contain');
        body.resume();
        const spec = type === 'fifo' ? ['p'] : [type === 'block-device' ? 'b' : 'c', String(header.devmajor ?? 0), String(header.devminor ?? 0)];
        await this.created(name, () => mknod(path, '600', spec));
        break;
      }
      default:
        this.refuse(name, `has the unsupported type ${type}`);
    }
    await this.setOwner(path, header);
    await chmod(path, mode);
    if (header.mtime) await utimes(path, header.mtime, header.mtime);
  }

  /** Creates the parent directories of `parts`; refuses when one of them is not a directory. */
  private async makeParents(name: string, parts: string[]): Promise<void> {
    await mkdir(join(this.dest, ...parts.slice(0, -1)), { recursive: true, mode: 0o755 }).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOTDIR' || e.code === 'EEXIST') this.refuse(name, 'lies below an entry that is not a directory');
      throw e;
    });
  }

  /**
   * `.wh.NAME`: the overlayfs whiteout of NAME, a 0/0 character device (root only). When
   * the layer has its own NAME too (it replaces the one below), that entry is kept: as it
   * is for a file, opaque for a directory (its contents below are gone).
   */
  private async whiteout(name: string, parts: string[], body: TarEntry): Promise<void> {
    body.resume();
    this.checkParents(name, parts);
    await this.makeParents(name, parts);
    const rel = parts.join('/');
    const path = join(this.dest, ...parts);
    if (this.whiteouts.has(rel)) return;
    const present = await lstat(path).catch(() => undefined);
    if (present?.isDirectory()) this.markOpaque(name, parts);
    if (present !== undefined) return;
    await mknod(path, '000', ['c', '0', '0']);
    this.whiteouts.add(rel);
  }

  /** An entry of the layer where its own whiteout was: the device goes; a directory becomes opaque. */
  private async replaceWhiteout(rel: string, path: string, type: string): Promise<void> {
    await rm(path);
    if (type === 'directory') this.markOpaque(rel, rel.split('/'));
  }

  private markOpaque(name: string, dir: string[]): void {
    this.keepXattrs(name, { path: dir.length > 0 ? dir.join('/') : '.', attrs: [['trusted.overlay.opaque', 'y']] });
  }

  /** `.wh..wh..opq`: its directory (made when the layer has no entry for it yet) hides the layers below. */
  private async opaque(name: string, dir: string[], body: TarEntry): Promise<void> {
    body.resume();
    this.checkParents(name, [...dir, '']);
    await this.makeParents(name, [...dir, '']);
    this.markOpaque(name, dir);
  }

  private keepXattrs(name: string, entry: EntryXattrs): void {
    const limit = this.options.limits.maxXattrBytes;
    this.xattrBytes += xattrBytes(entry.attrs);
    if (this.xattrBytes > limit) {
      throw new AgentError({
        code: 'image.metadata-too-large',
        message: `the image carries more than ${limit} bytes of extended attributes (at ${JSON.stringify(name)})`,
        subject: this.options.image,
        hint: 'No genuine image needs this much: the image is malformed or malicious and was not stored; tell its publisher',
      });
    }
    this.xattrs.push(entry);
  }

  /**
   * Checks the archive was complete and every symlink with the whole tree known (a later
   * link can lengthen an earlier chain), then applies directory owners, modes and mtimes,
   * deepest first.
   */
  async finish(): Promise<ExtractResult> {
    this.layout.finish();
    for (const [rel, target] of this.symlinks) this.checkSymlinkTarget(rel, rel.split('/'), target);
    const dirs = [...this.dirs.values()].sort((a, b) => b.path.length - a.path.length);
    for (const dir of dirs) {
      if (this.options.keepOwnership) await lchown(dir.path, dir.uid, dir.gid);
      await chmod(dir.path, dir.mode);
      await utimes(dir.path, dir.mtime, dir.mtime);
    }
    await restoreXattrs(this.dest, this.xattrs, this.options.image);
    return { entries: this.entries, bytes: this.bytes };
  }
}

/** Makes a device node or FIFO at `path` (refused as EEXIST when something is there). */
async function mknod(path: string, mode: string, spec: string[]): Promise<void> {
  if ((await lstat(path).catch(() => undefined)) !== undefined) throw Object.assign(new Error('exists'), { code: 'EEXIST' });
  await run('mknod', ['-m', mode, path, ...spec]);
}

/** Extracts the ACI tar stream `tar` into `dest` (an empty directory owned by the caller). */
export function extractAci(tar: Readable, dest: string, options: ExtractOptions): Promise<ExtractResult> {
  return extractArchive(tar, dest, aciLayout(options.limits, options.image), options);
}

/** Extracts the OCI layer tar stream `tar` into `dest` (an empty directory owned by the caller), whiteouts as overlayfs has them. */
export function extractLayer(tar: Readable, dest: string, options: ExtractOptions): Promise<ExtractResult> {
  return extractArchive(tar, dest, ociLayerLayout(options.image), options);
}

async function extractArchive(tar: Readable, dest: string, layout: ArchiveLayout, options: ExtractOptions): Promise<ExtractResult> {
  const extraction = new Extraction(dest, layout, options);
  const parser = tarExtract();
  tar.on('error', (e) => parser.destroy(e));
  tar.pipe(parser);
  try {
    for await (const entry of parser) {
      await extraction.entry(entry.header, entry);
    }
  } catch (e) {
    tar.destroy();
    throw asArchiveError(e, options.image);
  }
  return extraction.finish();
}

/** tar-stream's parse errors as `image.corrupt-archive`; our own and file-system errors as they are. */
export function asArchiveError(e: unknown, image: string): unknown {
  if (e instanceof AgentError || (e as NodeJS.ErrnoException).syscall !== undefined) return e;
  if (e instanceof Error && e.message === 'Header exceeds max size') {
    return new AgentError({
      code: 'image.metadata-too-large',
      message: 'an archive entry carries a metadata header (PAX records or a long name) larger than 4 MiB',
      subject: image,
      hint: 'No genuine image needs this much: the image is malformed or malicious and was not stored; tell its publisher',
      cause: e,
    });
  }
  return new AgentError({
    code: 'image.corrupt-archive',
    message: `the image is not a valid tar archive (${e instanceof Error ? e.message : String(e)})`,
    subject: image,
    hint: 'The file is damaged or not an App Container Image: fetch it again, or ask the publisher',
    cause: e,
  });
}
