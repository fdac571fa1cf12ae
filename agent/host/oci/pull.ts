/**
 * Fetches an OCI image from a registry into the stores, in this order:
 *   1. the manifest the reference names (an index or an image manifest), its digest computed;
 *   2. the policy (./policy-check.ts) decides on exactly those bytes and that digest — the
 *      digest signatures name — before anything else is fetched: a refused image never has
 *      its config or a layer downloaded;
 *   3. an image already stored under that digest is returned as it is (indexed under this
 *      tag too, so a second tag naming the same digest finds it);
 *   4. the platform's manifest and config (a single manifest's config must be this host's
 *      platform), mapped to an image record by the OCI adapter, checked before any layer;
 *   5. the layers the layer store lacks, in parallel, each streamed from the registry
 *      through its digest check and decompression straight into the store's extraction
 *      (no copy on disk); a connection broken mid-layer is resumed from the bytes the
 *      extractor has (RegistryClient.resumableBlob);
 *   6. the image directory (record.json + meta.json) appears by one rename, under `commit`
 *      (the caller's lock, so gc cannot remove the layers between 5 and 6).
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { AgentError, isAgentError } from '../../core/errors.js';
import { formatPlatform, type Platform } from '../../core/oci/platform.js';
import { ociImageId, ociRecord } from '../../core/oci/record.js';
import { formatReference, type DockerReference } from '../../core/oci/reference.js';
import { writeFileAtomic } from '../fs/atomic.js';
import type { ExtractLimits } from '../images/extract.js';
import type { FetchProgress } from '../images/fetch.js';
import type { ImageInfo, ImageStore } from '../images/store.js';
import type { HttpOptions } from '../net/http.js';
import { layerIdOf, type LayerStore } from './layer-store.js';
import { checkImagePolicy } from './policy-check.js';
import type { RegistryClient } from './registry-client.js';

export interface OciPullOptions {
  images: ImageStore;
  layers: LayerStore;
  client: RegistryClient;
  /** The platform a single manifest's config must name (an index is chosen from by the client). */
  platform: Platform;
  policyFile?: string;
  registriesDir?: string;
  /** `--insecure-options=image`: accept an image no policy file covers. */
  insecureImage: boolean;
  /** Deadlines of lookaside downloads. */
  http?: HttpOptions;
  limits: ExtractLimits;
  /** Runs the publication of the image so that no layer gc runs meanwhile. */
  commit: <T>(what: string, op: () => Promise<T>) => Promise<T>;
  onProgress?: (p: FetchProgress) => void;
  signal?: AbortSignal;
  /** Connections per layer when one breaks mid-layer (each resumes where the last stopped); default 3. */
  attempts?: number;
}

export interface OciPullResult {
  image: ImageInfo;
  /** Layer IDs downloaded by this pull (the others were stored already). */
  downloaded: string[];
  /** The policy scope that accepted the image; `insecure`: no policy file, accepted unverified (--insecure-options=image). */
  scope: string;
}

function platformMismatch(ref: DockerReference, got: Platform, wanted: Platform): AgentError {
  return new AgentError({
    code: 'image.platform-missing',
    message: `the image is built for ${formatPlatform(got)}, not for this host (${formatPlatform(wanted)})`,
    subject: formatReference(ref, { transport: true }),
    hint: 'Use an image built for this host\'s architecture, or ask the publisher to push an image index with it',
  });
}

export async function pullOciImage(ref: DockerReference, options: OciPullOptions): Promise<OciPullResult> {
  const { client, images, layers, signal } = options;
  const top = await client.manifest(ref, { signal });
  const decision = await checkImagePolicy({
    ref, manifest: top.bytes, digest: top.digest, insecure: options.insecureImage,
    ...(options.policyFile !== undefined && { policyFile: options.policyFile }),
    ...(options.registriesDir !== undefined && { registriesDir: options.registriesDir }),
    ...(options.http && { http: options.http }),
  });
  const id = ociImageId(top.digest);
  const stored = await images.get(id).catch((e: unknown) => {
    if (isAgentError(e, 'image.not-in-store')) return undefined;
    throw e;
  });
  if (stored) {
    // Another tag may name the same digest: it finds the image too.
    if (ref.tag !== undefined) await images.alias(id, stored.name, [{ name: 'version', value: ref.tag }, ...stored.labels.filter((l) => l.name !== 'version')]);
    return { image: stored, downloaded: [], scope: decision.scope };
  }

  const resolved = await client.resolveFrom(ref, top, { signal });
  const { config } = resolved;
  if (top.document.kind === 'manifest' && (config.os !== options.platform.os || config.architecture !== options.platform.architecture)) {
    throw platformMismatch(ref, { os: config.os, architecture: config.architecture, ...(config.variant && { variant: config.variant }) }, options.platform);
  }
  const layerIds = resolved.layers.map((l) => layerIdOf(l.diffId));
  const record = ociRecord({ reference: ref, digest: top.digest, layers: layerIds, config, annotations: resolved.manifest.document.annotations });

  const downloaded: string[] = [];
  await Promise.all(resolved.layers.map(async (layer, i) => {
    const layerId = layerIds[i]!;
    if (await layers.has(layerId)) return;
    const short = layer.descriptor.digest.slice(0, 'sha256:'.length + 12);
    let fetched = false;
    await layers.importLayer(async () => {
      fetched = true;
      return client.resumableBlob(ref, layer.descriptor, {
        ...(signal && { signal }),
        ...(options.attempts !== undefined && { attempts: options.attempts }),
        onProgress: (done, total) => options.onProgress?.({ phase: 'download', done, total, layer: short }),
      });
    }, {
      compression: layer.compression, diffId: layer.diffId, digest: layer.descriptor.digest, limits: options.limits,
      subject: `${formatReference(ref, { transport: true })} layer ${layer.descriptor.digest}`,
      ...(signal && { signal }),
    });
    if (fetched) downloaded.push(layerId);
  }));

  const size = (await Promise.all(layerIds.map(async (l) => (await layers.get(l))?.size ?? 0))).reduce((a, b) => a + b, 0);
  const info: ImageInfo = {
    id, format: 'oci', name: record.name, labels: record.labels, size,
    imported: new Date().toISOString(), lastUsed: null, source: record.reference!, signer: decision.signers[0] ?? null,
  };
  const image = await options.commit(`store image ${record.reference!}`, async () => {
    // gc may have run between the imports and now: a layer it removed is missing, so fetch again.
    for (const l of layerIds) {
      if (!(await layers.has(l))) {
        throw new AgentError({ code: 'image.layer-missing', message: `layer ${l} was removed while the image was fetched`, subject: record.reference!, hint: 'Fetch the image again' });
      }
    }
    const work = await images.newTempDir('oci');
    try {
      await writeFileAtomic(join(work, 'record.json'), `${JSON.stringify(record, null, 2)}\n`, { mode: 0o644 });
      return await images.commit(work, info);
    } catch (e) {
      await rm(work, { recursive: true, force: true });
      throw e;
    }
  });
  return { image, downloaded, scope: decision.scope };
}
