/**
 * OCI image-spec and Docker v2 schema 2 documents: media types, and strict-enough parsing of
 * an index (Docker: manifest list), an image manifest and an image config, with errors naming
 * the field. Fields a consumer relies on are checked for type and form; other fields are
 * ignored, as registries and builders add their own. Also: the compression of a layer from
 * its media type (gzip or none; zstd refused until supported) and the image's layers paired
 * with their diff IDs. Pure: parsing text, no I/O, no hashing.
 */
import { AgentError } from '../errors.js';
import { isDigest } from './reference.js';
import type { Platform } from './platform.js';

export const MEDIA_TYPES = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  ociLayerNondistributable: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
  ociLayerNondistributableGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  ociLayerNondistributableZstd: 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerForeignLayerGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
} as const;

/** The manifest types a registry may answer with; every manifest request's `Accept` lists them all. */
export const MANIFEST_ACCEPT: readonly string[] = [
  MEDIA_TYPES.ociIndex, MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerManifestList, MEDIA_TYPES.dockerManifest,
];

const INDEX_TYPES = new Set<string>([MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerManifestList]);
const MANIFEST_TYPES = new Set<string>([MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerManifest]);
const CONFIG_TYPES = new Set<string>([MEDIA_TYPES.ociConfig, MEDIA_TYPES.dockerConfig]);

export type LayerCompression = 'gzip' | 'none';

const LAYER_COMPRESSION: Record<string, LayerCompression | 'zstd'> = {
  [MEDIA_TYPES.ociLayer]: 'none',
  [MEDIA_TYPES.ociLayerNondistributable]: 'none',
  [MEDIA_TYPES.dockerLayer]: 'none',
  [MEDIA_TYPES.ociLayerGzip]: 'gzip',
  [MEDIA_TYPES.ociLayerNondistributableGzip]: 'gzip',
  [MEDIA_TYPES.dockerLayerGzip]: 'gzip',
  [MEDIA_TYPES.dockerForeignLayerGzip]: 'gzip',
  [MEDIA_TYPES.ociLayerZstd]: 'zstd',
  [MEDIA_TYPES.ociLayerNondistributableZstd]: 'zstd',
};

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  platform?: Platform;
}

export interface OciIndex {
  kind: 'index';
  mediaType: string;
  manifests: Descriptor[];
  annotations: Record<string, string>;
}

export interface OciManifest {
  kind: 'manifest';
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations: Record<string, string>;
}

/** The run settings of an image config (`config` of the OCI config, Docker's `config`). */
export interface ImageRunSettings {
  entrypoint?: string[];
  cmd?: string[];
  /** `NAME=value` strings, in the image's order. */
  env: string[];
  user?: string;
  workingDir?: string;
  /** `PORT/PROTO` keys of ExposedPorts (`80/tcp`, `53/udp`; a bare `80` means tcp). */
  exposedPorts: string[];
  labels: Record<string, string>;
}

export interface ImageConfig {
  os: string;
  architecture: string;
  variant?: string;
  config: ImageRunSettings;
  /** `rootfs.diff_ids`: the digests of the uncompressed layers, bottom first. */
  diffIds: string[];
}

/** A layer to fetch: its descriptor, its compression and the digest of its uncompressed tar. */
export interface LayerToFetch {
  descriptor: Descriptor;
  compression: LayerCompression;
  diffId: string;
}

type Json = unknown;

function bad(subject: string, field: string, message: string, hint = 'The registry served a malformed image document: tell the image\'s publisher'): AgentError {
  return new AgentError({ code: 'image.bad-manifest', message: field ? `${field}: ${message}` : message, subject, hint });
}

function isObject(v: Json): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Reads one document's fields, each error naming the field's path. */
class Fields {
  constructor(private readonly subject: string, private readonly path: string, readonly value: Record<string, Json>) {}

  static parse(text: string, subject: string, what: string): Fields {
    let value: Json;
    try {
      value = JSON.parse(text);
    } catch (e) {
      throw bad(subject, '', `the ${what} is not valid JSON (${(e as Error).message})`);
    }
    if (!isObject(value)) throw bad(subject, '', `the ${what} is not a JSON object`);
    return new Fields(subject, '', value);
  }

  private name(key: string): string {
    return this.path ? `${this.path}.${key}` : key;
  }

  fail(key: string, message: string): AgentError {
    return bad(this.subject, this.name(key), message);
  }

  has(key: string): boolean {
    return this.value[key] !== undefined && this.value[key] !== null;
  }

  string(key: string, optional: true): string | undefined;
  string(key: string, optional?: false): string;
  string(key: string, optional = false): string | undefined {
    const v = this.value[key];
    if ((v === undefined || v === null) && optional) return undefined;
    if (typeof v !== 'string') throw this.fail(key, v === undefined ? 'missing' : 'must be a string');
    return v;
  }

  stringList(key: string): string[] | undefined {
    const v = this.value[key];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v)) throw this.fail(key, 'must be a list of strings');
    v.forEach((s, i) => {
      if (typeof s !== 'string') throw this.fail(`${key}[${i}]`, 'must be a string');
    });
    return v as string[];
  }

  stringMap(key: string): Record<string, string> {
    const v = this.value[key];
    if (v === undefined || v === null) return {};
    if (!isObject(v)) throw this.fail(key, 'must be an object of strings');
    for (const [k, s] of Object.entries(v)) if (typeof s !== 'string') throw this.fail(`${key}.${k}`, 'must be a string');
    return v as Record<string, string>;
  }

  object(key: string, optional = false): Fields | undefined {
    const v = this.value[key];
    if ((v === undefined || v === null) && optional) return undefined;
    if (!isObject(v)) throw this.fail(key, v === undefined ? 'missing' : 'must be an object');
    return new Fields(this.subject, this.name(key), v);
  }

  objects(key: string): Fields[] {
    const v = this.value[key];
    if (!Array.isArray(v)) throw this.fail(key, v === undefined ? 'missing' : 'must be a list');
    return v.map((item, i) => {
      if (!isObject(item)) throw this.fail(`${key}[${i}]`, 'must be an object');
      return new Fields(this.subject, this.name(`${key}[${i}]`), item);
    });
  }

  digest(key: string): string {
    const d = this.string(key);
    if (!isDigest(d)) throw this.fail(key, `"${d}" is not a sha256 or sha512 digest`);
    return d;
  }
}

function descriptor(f: Fields): Descriptor {
  const size = f.value.size;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw f.fail('size', 'must be a non-negative integer');
  const platform = f.object('platform', true);
  const urls = f.stringList('urls');
  const annotations = f.stringMap('annotations');
  return {
    mediaType: f.string('mediaType'),
    digest: f.digest('digest'),
    size,
    ...(urls && { urls }),
    ...(Object.keys(annotations).length > 0 && { annotations }),
    ...(platform && { platform: platformOf(platform) }),
  };
}

function platformOf(f: Fields): Platform {
  const variant = f.string('variant', true);
  return { os: f.string('os'), architecture: f.string('architecture'), ...(variant && { variant }) };
}

/**
 * Parses a manifest response: an index (or Docker manifest list) or an image manifest. The
 * kind comes from the document's `mediaType`, else from the response's Content-Type, else from
 * its shape. Docker schema 1 and unknown types are refused.
 */
export function parseManifest(text: string, contentType: string | undefined, subject: string): OciIndex | OciManifest {
  const f = Fields.parse(text, subject, 'manifest');
  const schemaVersion = f.value.schemaVersion;
  if (schemaVersion !== 2) {
    throw new AgentError({
      code: 'image.bad-manifest',
      message: `schemaVersion: ${JSON.stringify(schemaVersion)} is not supported (only 2: OCI and Docker v2 schema 2)`,
      subject,
      hint: 'Docker schema 1 images are obsolete: push the image again with a current tool (skopeo copy --format v2s2 or oci)',
    });
  }
  const declared = f.string('mediaType', true);
  const type = declared ?? contentType?.split(';')[0]?.trim() ?? '';
  const isIndex = INDEX_TYPES.has(type) || (!declared && !MANIFEST_TYPES.has(type) && f.has('manifests'));
  const isManifest = MANIFEST_TYPES.has(type) || (!declared && !INDEX_TYPES.has(type) && f.has('config'));
  const annotations = f.stringMap('annotations');
  if (isIndex) {
    return { kind: 'index', mediaType: type || MEDIA_TYPES.ociIndex, manifests: f.objects('manifests').map(descriptor), annotations };
  }
  if (isManifest) {
    const config = descriptor(f.object('config') as Fields);
    if (!CONFIG_TYPES.has(config.mediaType)) {
      throw new AgentError({
        code: 'image.not-a-container-image',
        message: `config.mediaType: "${config.mediaType}" is not a container image config`,
        subject,
        hint: 'This reference names an artifact (chart, signature, SBOM…), not a container image',
      });
    }
    return { kind: 'manifest', mediaType: type || MEDIA_TYPES.ociManifest, config, layers: f.objects('layers').map(descriptor), annotations };
  }
  throw bad(subject, 'mediaType', `"${type}" is not an image index or manifest type`);
}

/** True for the media types of an index (OCI index, Docker manifest list). */
export function isIndexType(mediaType: string): boolean {
  return INDEX_TYPES.has(mediaType);
}

function ports(f: Fields): string[] {
  const exposed = f.object('ExposedPorts', true);
  if (!exposed) return [];
  return Object.keys(exposed.value).map((key) => {
    if (!/^[0-9]{1,5}(\/(tcp|udp|sctp))?$/.test(key)) throw exposed.fail(key, 'is not PORT[/tcp|udp|sctp]');
    return key;
  });
}

/** Parses an image config (OCI or Docker), checking the fields the agent uses. */
export function parseImageConfig(text: string, subject: string): ImageConfig {
  const f = Fields.parse(text, subject, 'image config');
  const rootfs = f.object('rootfs') as Fields;
  if (rootfs.string('type') !== 'layers') throw rootfs.fail('type', 'must be "layers"');
  const diffIds = rootfs.stringList('diff_ids');
  if (!diffIds) throw rootfs.fail('diff_ids', 'missing');
  diffIds.forEach((d, i) => {
    if (!isDigest(d)) throw rootfs.fail(`diff_ids[${i}]`, `"${d}" is not a sha256 or sha512 digest`);
  });
  const c = f.object('config', true);
  const env = c?.stringList('Env') ?? [];
  env.forEach((e, i) => {
    if (!/^[^=]+=/.test(e)) throw (c as Fields).fail(`Env[${i}]`, `"${e}" is not NAME=value`);
  });
  const entrypoint = c?.stringList('Entrypoint');
  const cmd = c?.stringList('Cmd');
  const user = c?.string('User', true);
  const workingDir = c?.string('WorkingDir', true);
  const variant = f.string('variant', true);
  return {
    os: f.string('os'),
    architecture: f.string('architecture'),
    ...(variant && { variant }),
    config: {
      ...(entrypoint && { entrypoint }),
      ...(cmd && { cmd }),
      env,
      ...(user && { user }),
      ...(workingDir && { workingDir }),
      exposedPorts: c ? ports(c) : [],
      labels: c?.stringMap('Labels') ?? {},
    },
    diffIds,
  };
}

/** How a layer of this media type is compressed; zstd and non-layer types are refused. */
export function layerCompression(mediaType: string, subject: string): LayerCompression {
  const compression = LAYER_COMPRESSION[mediaType];
  if (compression === 'zstd') {
    throw new AgentError({
      code: 'image.unsupported-compression',
      message: `a layer is compressed with zstd (${mediaType}), which host-agent does not support yet`,
      subject,
      hint: 'Push the image with gzip layers (skopeo copy --dest-compress-format gzip, or buildah/podman push --compression-format gzip)',
    });
  }
  if (compression === undefined) {
    throw bad(subject, 'layers', `"${mediaType}" is not a layer media type (tar, tar+gzip)`);
  }
  return compression;
}

/** The manifest's layers, bottom first, with compression and diff ID; the counts must agree. */
export function layersToFetch(manifest: OciManifest, config: ImageConfig, subject: string): LayerToFetch[] {
  if (manifest.layers.length !== config.diffIds.length) {
    throw bad(subject, 'rootfs.diff_ids', `the config lists ${config.diffIds.length} layers but the manifest has ${manifest.layers.length}`);
  }
  return manifest.layers.map((descriptor, i) => ({
    descriptor,
    compression: layerCompression(descriptor.mediaType, subject),
    diffId: config.diffIds[i] as string,
  }));
}
