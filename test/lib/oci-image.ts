/**
 * OCI images for tests, built in TypeScript: tar layers from lists of entries (tar-stream,
 * through ./aci.ts), plain or gzip, an image config and manifest, and optionally an index of
 * several platforms, written as an OCI image layout directory (`oci-layout`, `index.json`,
 * `blobs/sha256/…`) under a tag; and pushed to a registry with skopeo
 * (`skopeo copy oci:DIR:TAG docker://HOST/REPO:TAG`). One layout can hold several tags,
 * sharing blobs. Layer media types can be overridden (e.g. to declare zstd).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createGunzip } from 'node:zlib';
import { writeAci, type AciEntry } from './aci.js';

const run = promisify(execFile);

export const OCI = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar',
  layerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  layerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
} as const;

/** An entry of a layer's tar: a name at the root of the tree (no `rootfs/`), as in ./aci.ts. */
export type LayerEntry = AciEntry;

export interface LayerSpec {
  entries: LayerEntry[];
  /** Default gzip. */
  compression?: 'gzip' | 'none';
  /** Declared media type, default the one of the compression. */
  mediaType?: string;
}

export interface ImageSpec {
  layers: LayerSpec[];
  /** Default linux/amd64. */
  platform?: { os?: string; architecture?: string; variant?: string };
  /** The config's `config` (Entrypoint, Cmd, Env, User, WorkingDir, ExposedPorts, Labels…). */
  config?: Record<string, unknown>;
  annotations?: Record<string, string>;
}

export interface BuiltDescriptor {
  mediaType: string;
  digest: string;
  size: number;
}

export interface BuiltImage {
  manifest: BuiltDescriptor;
  config: BuiltDescriptor;
  /** Bottom first, with the digest of each uncompressed tar. */
  layers: Array<BuiltDescriptor & { diffId: string }>;
  platform: { os: string; architecture: string; variant?: string };
}

export interface BuiltLayout {
  dir: string;
  tag: string;
  /** What the tag names: the index for several images, else the one manifest. */
  top: BuiltDescriptor;
  images: BuiltImage[];
}

async function sha256File(file: string, gunzip = false): Promise<string> {
  const hash = createHash('sha256');
  const file$ = createReadStream(file);
  const source = gunzip ? file$.pipe(createGunzip()) : file$;
  file$.on('error', (e) => source.destroy(e));
  for await (const chunk of source) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}

/** Stores `bytes` as a blob of the layout; returns its descriptor. */
async function putBlob(dir: string, mediaType: string, bytes: Buffer | string): Promise<BuiltDescriptor> {
  const data = Buffer.from(bytes);
  const hex = createHash('sha256').update(data).digest('hex');
  await writeFile(join(dir, 'blobs', 'sha256', hex), data);
  return { mediaType, digest: `sha256:${hex}`, size: data.length };
}

async function putLayer(dir: string, spec: LayerSpec, n: number): Promise<BuiltDescriptor & { diffId: string }> {
  const compression = spec.compression ?? 'gzip';
  const temp = join(dir, `layer-${process.pid}-${n}.tmp`);
  await writeAci(temp, spec.entries, compression === 'gzip' ? 'gzip' : 'tar');
  const digest = await sha256File(temp);
  const diffId = compression === 'gzip' ? await sha256File(temp, true) : digest;
  const { size } = await stat(temp);
  await rename(temp, join(dir, 'blobs', 'sha256', digest.slice('sha256:'.length)));
  return { mediaType: spec.mediaType ?? (compression === 'gzip' ? OCI.layerGzip : OCI.layer), digest, size, diffId };
}

async function putImage(dir: string, spec: ImageSpec): Promise<BuiltImage> {
  const layers = [];
  for (const [i, layer] of spec.layers.entries()) layers.push(await putLayer(dir, layer, i));
  const platform = { os: spec.platform?.os ?? 'linux', architecture: spec.platform?.architecture ?? 'amd64', ...(spec.platform?.variant && { variant: spec.platform.variant }) };
  const config = await putBlob(dir, OCI.config, JSON.stringify({
    created: '2024-01-02T03:04:05Z',
    ...platform,
    config: spec.config ?? {},
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map(() => ({ created: '2024-01-02T03:04:05Z', created_by: 'host-agent test' })),
  }));
  const manifest = await putBlob(dir, OCI.manifest, JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI.manifest,
    config,
    layers: layers.map(({ mediaType, digest, size }) => ({ mediaType, digest, size })),
    ...(spec.annotations && { annotations: spec.annotations }),
  }));
  return { manifest, config, layers, platform };
}

/**
 * Writes the images into the OCI layout `dir` under `tag` (one image: the tag names its
 * manifest; several: an index of them, one per platform). Other tags in `dir` are kept.
 */
export async function writeOciLayout(dir: string, tag: string, specs: ImageSpec | ImageSpec[]): Promise<BuiltLayout> {
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const list = Array.isArray(specs) ? specs : [specs];
  const images = [];
  for (const spec of list) images.push(await putImage(dir, spec));
  const top = Array.isArray(specs)
    ? await putBlob(dir, OCI.index, JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI.index,
        manifests: images.map((image) => ({ ...image.manifest, platform: image.platform })),
      }))
    : (images[0] as BuiltImage).manifest;
  const indexFile = join(dir, 'index.json');
  const existing = await readFile(indexFile, 'utf8').then((t) => JSON.parse(t) as { manifests: Array<{ annotations?: Record<string, string> }> }, () => ({ manifests: [] }));
  const others = existing.manifests.filter((m) => m.annotations?.['org.opencontainers.image.ref.name'] !== tag);
  await writeFile(indexFile, JSON.stringify({
    schemaVersion: 2,
    manifests: [...others, { ...top, annotations: { 'org.opencontainers.image.ref.name': tag } }],
  }));
  return { dir, tag, top, images };
}

export interface PushOptions {
  /** Convert to Docker v2 schema 2 (`--format v2s2`); digests then differ from the layout's. */
  format?: 'v2s2';
  /** `user:password` for the registry (`--dest-creds`). */
  creds?: string;
}

/**
 * Pushes `layout` to `dest` (`HOST/REPO:TAG`) with skopeo, every image of an index, blobs
 * and digests as they are (unless converted to v2s2).
 */
export async function pushImage(layout: BuiltLayout, dest: string, options: PushOptions = {}): Promise<void> {
  const args = [
    '--insecure-policy', 'copy', '--quiet', '--all', '--dest-tls-verify=false',
    ...(options.format ? ['--format', options.format] : ['--preserve-digests']),
    ...(options.creds ? ['--dest-creds', options.creds] : []),
    `oci:${layout.dir}:${layout.tag}`, `docker://${dest}`,
  ];
  await run('skopeo', args, { timeout: 120_000 });
}

/** The busybox-static entries of a small runnable layer (`/bin/busybox` and `/bin/sh`). */
export function busyboxLayer(): LayerEntry[] {
  return [
    { name: 'bin', type: 'directory', mode: 0o755 },
    { name: 'bin/busybox', mode: 0o755, content: { file: '/bin/busybox' } },
    { name: 'bin/sh', type: 'symlink', linkname: 'busybox' },
  ];
}
