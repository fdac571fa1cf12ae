/**
 * Publishes test releases into a channel directory the way a release server would:
 * `<group>/release.json` (signed with real gpg into `release.json.asc`) naming a payload
 * file, compressed with gzip (zlib) or xz (the xz tool). Images are deterministic
 * pseudo-random bytes, so a version's content can be recomputed.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import type { Gpg, GpgKey } from '../../../lib/gpg.js';
import type { Compression, Release } from '../../../../agent/core/update/release.js';

const run = promisify(execFile);

/**
 * `size` bytes that depend only on `seed`, compressible like a file system: each 4 KiB
 * page opens with 64 bytes of a sha512 chain and is filled with a repeated page label.
 */
export function imageBytes(seed: string, size: number): Buffer {
  const out = Buffer.alloc(size);
  let block = createHash('sha512').update(seed).digest();
  for (let pos = 0, page = 0; pos < size; pos += 4096, page++) {
    block.copy(out, pos);
    out.fill(`${seed}:page ${page};`, Math.min(pos + 64, size), Math.min(pos + 4096, size));
    block = createHash('sha512').update(block).digest();
  }
  return out;
}

export function sha512(data: Uint8Array): string {
  return createHash('sha512').update(data).digest('hex');
}

export interface PublishOptions {
  dir: string;
  group: string;
  version: string;
  image: Buffer;
  compression: Compression;
  gpg: Gpg;
  key: GpgKey;
  /** RFC 3339; default a day from now. */
  expires?: string;
  /** Override manifest fields (to publish lies). */
  size?: number;
  sha512?: string;
  /** `payload.verity` of the manifest (test/lib/verity.ts makes it). */
  verity?: Record<string, unknown>;
}

const EXT: Record<Compression, string> = { none: '', gzip: '.gz', xz: '.xz' };

async function compress(image: Buffer, compression: Compression, path: string): Promise<void> {
  if (compression === 'gzip') await writeFile(path, gzipSync(image));
  else if (compression === 'none') await writeFile(path, image);
  else {
    await writeFile(`${path}.raw`, image);
    await run('sh', ['-c', 'xz -T1 -0 --stdout "$1" > "$2" && rm "$1"', 'sh', `${path}.raw`, path]);
  }
}

/** Publish `version`; returns its manifest and the payload file's path. */
export async function publish(o: PublishOptions): Promise<{ release: Release; payloadPath: string }> {
  const groupDir = join(o.dir, o.group);
  await mkdir(groupDir, { recursive: true });
  const name = `usr-${o.version}.img${EXT[o.compression]}`;
  const payloadPath = join(groupDir, name);
  await compress(o.image, o.compression, payloadPath);
  const release: Release = {
    version: o.version,
    expires: o.expires ?? new Date(Date.now() + 86_400_000).toISOString(),
    payload: { url: name, size: o.size ?? o.image.length, sha512: o.sha512 ?? sha512(o.image), compression: o.compression, ...(o.verity && { verity: o.verity as never }) },
  };
  const manifest = join(groupDir, 'release.json');
  await writeFile(manifest, `${JSON.stringify(release, null, 2)}\n`);
  await o.gpg.sign(manifest, o.key);
  return { release, payloadPath };
}
