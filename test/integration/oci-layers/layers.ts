/**
 * OCI layers for the layer-store tests, built with tar-stream's packer as registries serve
 * them (entries at the root of the tar, whiteouts as `.wh.` entries): the tar, its diff ID,
 * the gzip blob and its digest. Also an OCI image layout of such layers (index.json, a
 * manifest, a config) that `umoci unpack` reads, the oracle for the merged tree.
 */
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { pack, type Header } from 'tar-stream';

export type LayerEntry = Partial<Header> & { name: string; content?: string | Buffer };

export interface Layer {
  tar: Buffer;
  gzip: Buffer;
  /** `sha256:<hex>` of the tar. */
  diffId: string;
  /** `sha256:<hex>` of the gzip blob. */
  digest: string;
}

const sha256 = (data: Buffer | string): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;

/** The tar of `entries`, in order (a file by default, mode 0644, root-owned, mtime fixed). */
export async function layerTar(entries: LayerEntry[]): Promise<Buffer> {
  const packer = pack();
  const chunks: Buffer[] = [];
  packer.on('data', (c: unknown) => void chunks.push(c as Buffer));
  const ended = new Promise<void>((resolve, reject) => {
    packer.on('end', resolve);
    packer.on('error', reject);
  });
  for (const { content, ...header } of entries) {
    const type = header.type ?? 'file';
    const body = type === 'file' ? Buffer.from(content ?? '') : Buffer.alloc(0);
    const full = { mode: type === 'directory' ? 0o755 : 0o644, uid: 0, gid: 0, mtime: new Date(1_700_000_000_000), ...header, type, size: body.length };
    await new Promise<void>((resolve, reject) => packer.entry(full, body, (e) => (e ? reject(e) : resolve())));
  }
  packer.finalize();
  await ended;
  return Buffer.concat(chunks);
}

export async function makeLayer(entries: LayerEntry[]): Promise<Layer> {
  const tar = await layerTar(entries);
  const gzip = gzipSync(tar);
  return { tar, gzip, diffId: sha256(tar), digest: sha256(gzip) };
}

/** Writes an OCI image layout at `dir` with `layers` (bottom first) tagged `tag`. */
export async function writeOciLayout(dir: string, tag: string, layers: Layer[]): Promise<void> {
  const blobs = join(dir, 'blobs/sha256');
  await mkdir(blobs, { recursive: true });
  const blob = async (data: Buffer | string): Promise<{ digest: string; size: number }> => {
    const digest = sha256(data);
    await writeFile(join(blobs, digest.slice('sha256:'.length)), data);
    return { digest, size: Buffer.byteLength(data) };
  };
  const config = await blob(JSON.stringify({
    architecture: 'amd64', os: 'linux', config: {},
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
  }));
  const layerDescriptors = [];
  for (const layer of layers) layerDescriptors.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...(await blob(layer.gzip)) });
  const manifest = await blob(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: layerDescriptors,
  }));
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(join(dir, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': tag } }],
  }));
}
