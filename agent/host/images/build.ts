/**
 * Writes an image archive from a directory, as `actool build` lays it out: `manifest`,
 * then `rootfs/` and everything under it, depth first, each directory's entries sorted by
 * name; every entry has the mtime BUILD_MTIME, owner and group 0 (numeric, no names), and
 * its own mode. The same tree and manifest give the same bytes. Regular files, directories
 * and symlinks only (hard links are stored as copies); a device, socket or FIFO is refused.
 * The file is written to a temp path and renamed into place.
 */
import { createReadStream } from 'node:fs';
import { lstat, open, readdir, readlink, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { pack as tarPack, type Header, type Pack } from 'tar-stream';
import { BUILD_MTIME, sortedNames } from '../../core/appc/build.js';
import { AgentError } from '../../core/errors.js';
import { commitTemp, tempPathFor } from '../fs/atomic.js';

function header(name: string, mode: number, rest: Partial<Header>): Header {
  return { name, mode: mode & 0o7777, mtime: BUILD_MTIME, uid: 0, gid: 0, uname: '', gname: '', size: 0, ...rest } as Header;
}

function entry(pack: Pack, h: Header, data?: string | Buffer): Promise<void> {
  return new Promise((resolve, reject) => pack.entry(h, data ?? '', (e) => (e ? reject(e) : resolve())));
}

async function addFile(pack: Pack, path: string, name: string, mode: number, size: number): Promise<void> {
  const sink = pack.entry(header(name, mode, { type: 'file', size }));
  await pipeline(createReadStream(path), sink);
}

async function addTree(pack: Pack, dir: string, name: string): Promise<void> {
  for (const child of sortedNames(await readdir(dir))) {
    const path = join(dir, child);
    const childName = `${name}/${child}`;
    const info = await lstat(path);
    if (info.isDirectory()) {
      await entry(pack, header(`${childName}/`, info.mode, { type: 'directory' }));
      await addTree(pack, path, childName);
    } else if (info.isSymbolicLink()) {
      await entry(pack, header(childName, info.mode, { type: 'symlink', linkname: await readlink(path) }));
    } else if (info.isFile()) {
      await addFile(pack, path, childName, info.mode, info.size);
    } else {
      throw new AgentError({
        code: 'image.build-unsupported-file',
        message: 'a device, socket or FIFO cannot go into an image',
        subject: path,
        hint: 'Remove it from the directory; containers get /dev from systemd-nspawn',
      });
    }
  }
}

/** Writes `rootfs` (a directory) with `manifest` (its text) as the image archive `out`. */
export async function buildImage(rootfs: string, manifest: string, out: string): Promise<void> {
  const info = await lstat(rootfs).catch(() => undefined);
  if (!info?.isDirectory()) {
    throw new AgentError({ code: 'image.build-no-rootfs', message: 'not a directory', subject: rootfs, hint: 'Give the directory that becomes the image\'s root file system' });
  }
  const temp = tempPathFor(out);
  const handle = await open(temp, 'wx', 0o644);
  try {
    const pack = tarPack();
    const written = pipeline(pack, handle.createWriteStream());
    await entry(pack, header('manifest', 0o644, { type: 'file' }), Buffer.from(manifest));
    await entry(pack, header('rootfs/', info.mode, { type: 'directory' }));
    await addTree(pack, rootfs, 'rootfs');
    pack.finalize();
    await written;
    const sync = await open(temp, 'r+');
    await sync.sync().finally(() => sync.close());
    await commitTemp(temp, out);
  } catch (e) {
    await rm(temp, { force: true });
    throw e;
  } finally {
    await handle.close().catch(() => undefined);
  }
}
