/**
 * The image operations behind agentd's image methods (ListImages, GetImage, FetchImage,
 * RemoveImage, GcImages) and behind agentctl when no agent runs: one object built from
 * the store, the keystore and a fetcher, taking and returning the JSON documents of
 * agent/api/agent1.ts. One process at a time holds a store (ImageStore.open takes its
 * lock; close lets go): agentd, or agentctl while agentd is not running.
 *
 * An image a container holds (see ImageHolder) is in use: remove refuses it, naming the
 * containers, and gc keeps it; both ask the same `holders` function.
 *
 * OCI images (`docker://…`) are pulled by ../host/oci/pull.ts into both stores: the image
 * store (records) and the layer store (`<stateDir>/layers`). Publishing an image and
 * removing unused layers (gc) take turns on one lock, so gc never removes a layer an image
 * being published lists.
 */
import { execFile } from 'node:child_process';
import { readFile, rm, stat } from 'node:fs/promises';
import { endianness } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { promisify } from 'node:util';
import type {
  FetchProgressEvent, FetchRequest, FetchResult, GcRequest, GcResult, ImageDetail, ImageLabel, ImageSummary, ImageUpdatesDocument,
} from '../api/agent1.js';
import { AgentError, isAgentError } from '../core/errors.js';
import { parseAppString, parseImageReference, type AppDefaults } from '../core/appc/app-string.js';
import { looksLikeImageId, shortImageId } from '../core/image/id.js';
import type { AgentHandlers } from '../host/bus/service.js';
import { commitTemp, tempPathFor } from '../host/fs/atomic.js';
import type { ExtractLimits } from '../host/images/extract.js';
import { classifyImageArgument, Fetcher, type FetchProgress, type InsecureOption } from '../host/images/fetch.js';
import type { HttpOptions } from '../host/net/http.js';
import { ImageStore, type ImageInfo } from '../host/images/store.js';
import { Keystore, type KeystorePaths } from '../host/trust/keystore.js';
import type { ExclusiveRunner } from './runner.js';
import { nodePlatform, type Platform } from '../core/oci/platform.js';
import { ociImageId } from '../core/oci/record.js';
import { DOCKER_TRANSPORT, formatReference, parseReference, repositoryName, type DockerReference } from '../core/oci/reference.js';
import { DEFAULT_EXTRACT_LIMITS } from '../host/images/extract.js';
import { defaultMaxBytes } from '../host/images/fetch.js';
import { LayerStore } from '../host/oci/layer-store.js';
import { pullOciImage } from '../host/oci/pull.js';
import { RegistryClient } from '../host/oci/registry-client.js';
import type { Warn } from '../host/fs/state-file.js';

const run = promisify(execFile);

export interface ImageServiceOptions {
  /** The agent's state directory; images live in `<stateDir>/images`. */
  stateDir: string;
  keystore: KeystorePaths;
  /** TLS (a private CA), timeouts; `allowHttp` comes from each request. */
  http?: Omit<HttpOptions, 'allowHttp'>;
  /** A port for discovery URLs (tests and private networks); default 443/80. */
  discoveryPort?: number;
  limits?: Partial<ExtractLimits>;
  allowDevices?: boolean;
  /** os and arch labels for fetches by name; default: this host. */
  host?: AppDefaults;
  /** The images in use and who holds them: remove refuses them, gc keeps them. Default: none. */
  holders?: () => Promise<readonly ImageHolder[]>;
  /**
   * The agent's runner: remove and gc run on it, so no container change (which changes
   * the holders) comes between the check and the removal. Default: run at once.
   */
  runner?: Pick<ExclusiveRunner, 'run'>;
  /** How long to wait for another process to let go of the store; default 0. */
  lockWaitMs?: number;
  /** Where warnings about damaged store files go; default stderr. */
  warn?: Warn;
  /** OCI: the containers policy.json; default /etc/host-agent/policy.json. */
  policyFile?: string;
  /** OCI: the registries.d directory naming lookaside stores; default /etc/host-agent/registries.d. */
  registriesDir?: string;
  /** OCI: the containers-auth.json with registry credentials; default /etc/host-agent/auth.json. */
  registryAuthFile?: string;
  /** OCI: the platform images are chosen for; default this host's. */
  platform?: Platform;
}

export const DEFAULT_REGISTRY_AUTH_FILE = '/etc/host-agent/auth.json';

/** A container that holds an image: it runs it, is declared on it, or auto-update keeps it. */
export interface ImageHolder {
  imageId: string;
  container: string;
  /** Why, for people: `declared`, `unit running`, `one-off run failed`, `staged by auto-update`… */
  why: string;
}

/** The images auto-update holds: each container's current, staged and rollback image. */
export function autoUpdateHolders(doc: ImageUpdatesDocument): ImageHolder[] {
  return doc.containers.flatMap((c) => [
    ...(c.current ? [{ imageId: c.current.id, container: c.name, why: 'current image of auto-update' }] : []),
    ...(c.staged ? [{ imageId: c.staged.id, container: c.name, why: 'staged by auto-update' }] : []),
    ...(c.previous ? [{ imageId: c.previous.id, container: c.name, why: 'rollback image of auto-update' }] : []),
  ]);
}

/** The error of removing an image that `holders` (all holding it, at least one) hold. */
export function imageInUse(image: ImageInfo, holders: readonly ImageHolder[]): AgentError {
  const whys = new Map<string, string[]>();
  for (const h of holders) whys.set(h.container, [...new Set([...(whys.get(h.container) ?? []), h.why])]);
  const names = [...whys].map(([container, why]) => `${container} (${why.join(', ')})`).join(', ');
  return new AgentError({
    code: 'image.in-use',
    message: `image ${image.name} ${shortImageId(image.id)} is in use by container${whys.size > 1 ? 's' : ''} ${names}`,
    subject: image.id,
    hint: 'Remove or change those containers first: their declarations in host-agent.containers, one-off runs with agentctl rm; ' +
      'auto-update lets go of a staged or rollback image when the container no longer has auto-update: true',
  });
}

export type ImageHandlers = Pick<AgentHandlers, 'ListImages' | 'GetImage' | 'FetchImage' | 'RemoveImage' | 'GcImages'>;

const APPC_ARCH: Record<string, string> = {
  x64: 'amd64', ia32: 'i386', arm64: 'aarch64', arm: 'armv7l', s390x: 's390x',
  ppc64: endianness() === 'LE' ? 'ppc64le' : 'ppc64',
};

/** os/arch labels of this host, in appc's words (amd64, aarch64, …). */
export function hostAppDefaults(): AppDefaults {
  return { os: process.platform, arch: APPC_ARCH[process.arch] ?? process.arch };
}

function summary(info: ImageInfo): ImageSummary {
  const { id, format, name, labels, size, imported, lastUsed, source, signer } = info;
  return { id, format, name, labels, size, imported, lastUsed, source, signer };
}

/** Reports at most every `intervalMs` per phase (per layer), plus each one's first and last event. */
export function throttleProgress(emit: (p: FetchProgress) => void, intervalMs = 100): (p: FetchProgress) => void {
  const last = new Map<string, number>();
  return (p) => {
    const now = Date.now();
    const key = `${p.phase} ${p.layer ?? ''}`;
    const before = last.get(key);
    if (before === undefined || p.done === p.total || now - before >= intervalMs) {
      last.set(key, now);
      emit(p);
    }
  };
}

function badInsecureOption(value: string): AgentError {
  return new AgentError({
    code: 'image.bad-insecure-option',
    message: `unknown insecure option "${value}"`,
    hint: 'Use --insecure-options=http, --insecure-options=image or --insecure-options=http,image',
  });
}

/** Checks the insecure options a request names. */
export function insecureOptions(values: readonly string[]): Set<InsecureOption> {
  for (const v of values) if (v !== 'http' && v !== 'image') throw badInsecureOption(v);
  return new Set(values as InsecureOption[]);
}

export class ImageService {
  /** Image publication (OCI) and layer removal take turns on this chain. */
  private storeTurn: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly store: ImageStore,
    private readonly layers: LayerStore,
    private readonly keystore: Keystore,
    private readonly options: ImageServiceOptions,
  ) {}

  /** Opens the store (cleaning leftovers of interrupted work) and the keystore. */
  static async open(options: ImageServiceOptions): Promise<ImageService> {
    let store: ImageStore;
    let layers: LayerStore;
    const paths = {
      stateDir: options.stateDir,
      ...(options.lockWaitMs !== undefined && { lockWaitMs: options.lockWaitMs }),
      ...(options.warn && { warn: options.warn }),
    };
    try {
      store = await ImageStore.open(paths);
      layers = await LayerStore.open(paths).catch(async (e: unknown) => {
        await store.close();
        throw e;
      });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EACCES' && code !== 'EPERM' && code !== 'EROFS') throw e;
      throw new AgentError({
        code: 'image.store-unavailable',
        message: `cannot open the image store (${code})`,
        subject: `${options.stateDir}/images`,
        hint: 'Run as root, or give another state directory with --state-dir',
        cause: e,
      });
    }
    return new ImageService(store, layers, new Keystore(options.keystore), options);
  }

  /** Lets go of the stores. */
  async close(): Promise<void> {
    await this.layers.close();
    await this.store.close();
  }

  async list(): Promise<ImageSummary[]> {
    return (await this.store.list()).map(summary);
  }

  /**
   * An image by ID, ID prefix or NAME[:VERSION][,LABEL=VALUE]… (the latest import): its
   * summary, its record and, for an appc image, its manifest as stored.
   */
  async get(ref: string): Promise<ImageDetail> {
    const info = await this.find(ref);
    const dir = this.store.imageDir(info.id);
    const record = await this.store.record(info.id);
    return { image: summary(info), dir, record, ...(info.format === 'appc' && { manifest: await readFile(`${dir}/manifest`, 'utf8') }) };
  }

  async fetch(request: Omit<FetchRequest, 'requestId'>, onProgress?: (p: FetchProgress) => void): Promise<FetchResult> {
    const insecure = insecureOptions(request.insecureOptions);
    const warnings: string[] = [];
    const host = this.options.host ?? hostAppDefaults();
    const source = classifyImageArgument(request.image, (text) => parseImageReference(text, host));
    if (source.kind === 'docker') return { image: summary(await this.pull(source.reference, insecure, warnings, onProgress)), warnings };
    if (source.kind === 'file') source.path = resolve(source.path);
    const fetcher = new Fetcher({
      store: this.store,
      keystore: this.keystore,
      insecureOptions: insecure,
      ...(this.options.http && { http: this.options.http }),
      ...(this.options.limits && { limits: this.options.limits }),
      ...(this.options.allowDevices !== undefined && { allowDevices: this.options.allowDevices }),
      ...(this.options.discoveryPort !== undefined && { discoveryPort: this.options.discoveryPort }),
      ...(onProgress && { onProgress }),
      onWarning: (w) => warnings.push(w),
    });
    return { image: summary(await fetcher.fetch(source)), warnings };
  }

  /** Pulls an OCI image from its registry (../host/oci/pull.ts). */
  private async pull(reference: DockerReference, insecure: ReadonlySet<InsecureOption>, warnings: string[], onProgress?: (p: FetchProgress) => void): Promise<ImageInfo> {
    const client = new RegistryClient({
      ...(this.options.http && { http: this.options.http }),
      insecureHttp: insecure.has('http'),
      authFile: this.options.registryAuthFile ?? DEFAULT_REGISTRY_AUTH_FILE,
      platform: this.platform(),
    });
    const maxBytes = this.options.limits?.maxBytes ?? (await defaultMaxBytes(this.layers.dir));
    const { image, scope } = await pullOciImage(reference, {
      images: this.store,
      layers: this.layers,
      client,
      platform: this.platform(),
      insecureImage: insecure.has('image'),
      ...(this.options.policyFile !== undefined && { policyFile: this.options.policyFile }),
      ...(this.options.registriesDir !== undefined && { registriesDir: this.options.registriesDir }),
      ...(this.options.http && { http: this.options.http }),
      limits: { ...DEFAULT_EXTRACT_LIMITS, ...this.options.limits, maxBytes },
      commit: (_what, op) => this.storeLocked(op),
      ...(onProgress && { onProgress }),
    });
    if (scope === 'insecure') warnings.push(`${formatReference(reference, { transport: true })} was accepted without verification: there is no policy file (--insecure-options=image)`);
    return image;
  }

  private platform(): Platform {
    return this.options.platform ?? nodePlatform(process.arch, (process.config.variables as { arm_version?: string }).arm_version);
  }

  /** Runs `op` when no other publication or layer removal runs. */
  private storeLocked<T>(op: () => Promise<T>): Promise<T> {
    const next = this.storeTurn.then(op);
    this.storeTurn = next.catch(() => undefined);
    return next;
  }

  /** Removes an image no container holds; refuses one in use (image.in-use). */
  async remove(ref: string): Promise<ImageSummary> {
    return this.exclusive(`remove image ${ref}`, async () => {
      const info = await this.find(ref);
      const holders = (await this.holders()).filter((h) => h.imageId === info.id);
      if (holders.length > 0) throw imageInUse(info, holders);
      await this.store.remove(info.id);
      return summary(info);
    });
  }

  async gc(request: GcRequest): Promise<GcResult> {
    if (!Number.isFinite(request.graceSeconds) || request.graceSeconds < 0) {
      throw new AgentError({ code: 'image.bad-grace', message: `grace period ${request.graceSeconds} s is not a duration`, hint: 'Give a grace period such as 24h or 30m' });
    }
    return this.exclusive('remove unused images', async () => {
      const before = new Map((await this.store.list()).map((i) => [i.id, i]));
      const referenced = new Set((await this.holders()).map((h) => h.imageId));
      const removed = await this.store.gc(referenced, request.graceSeconds * 1000);
      await this.removeUnusedLayers();
      return { removed: removed.map((id) => summary(before.get(id)!)) };
    });
  }

  /** The D-Bus handlers of the image methods; `emit` sends a FetchProgress signal. */
  handlers(emit: (event: FetchProgressEvent) => void): ImageHandlers {
    return {
      ListImages: async () => [JSON.stringify(await this.list())],
      GetImage: async (ref) => [JSON.stringify(await this.get(String(ref)))],
      FetchImage: async (json) => {
        const request = parseJson<FetchRequest>(json, 'FetchImage');
        if (!isAbsolute(request.image) && classifyImageArgument(request.image, parseAppString).kind === 'file') {
          throw new AgentError({ code: 'image.relative-path', message: 'the agent needs an absolute path', subject: request.image, hint: 'Give the image file as an absolute path' });
        }
        const progress = throttleProgress((p) => emit({ requestId: request.requestId, phase: p.phase, done: p.done, total: p.total ?? null, ...(p.layer !== undefined && { layer: p.layer }) }));
        try {
          return [JSON.stringify(await this.fetch(request, progress))];
        } catch (e) {
          throw privateTmpHint(e, request.image);
        }
      },
      RemoveImage: async (ref) => [JSON.stringify(await this.remove(String(ref)))],
      GcImages: async (json) => [JSON.stringify(await this.gc(parseJson<GcRequest>(json, 'GcImages')))],
    };
  }

  /** Removes the layers no stored image lists (after gc), in turn with image publication. */
  private removeUnusedLayers(): Promise<string[]> {
    return this.storeLocked(async () => {
      const inUse = new Set<string>();
      for (const image of await this.store.list()) {
        if (image.format !== 'oci') continue;
        for (const layer of (await this.store.record(image.id)).layers) inUse.add(layer);
      }
      return this.layers.removeUnused(inUse);
    });
  }

  private exclusive<T>(what: string, op: () => Promise<T>): Promise<T> {
    return this.options.runner ? this.options.runner.run(what, op) : op();
  }

  private async holders(): Promise<readonly ImageHolder[]> {
    return (await this.options.holders?.()) ?? [];
  }

  private async find(ref: string) {
    if (looksLikeImageId(ref)) return this.store.get(ref);
    if (ref.startsWith(DOCKER_TRANSPORT)) {
      const docker = parseReference(ref);
      if (docker.digest !== undefined) return this.store.get(ociImageId(docker.digest));
      return this.store.get(repositoryName(docker), [{ name: 'version', value: docker.tag! }]);
    }
    const app = parseAppString(ref);
    const labels: ImageLabel[] = Object.entries(app.labels).map(([name, value]) => ({ name, value }));
    return this.store.get(app.name, labels);
  }
}

function parseJson<T>(json: unknown, method: string): T {
  try {
    return JSON.parse(String(json)) as T;
  } catch (e) {
    throw new AgentError({ code: 'agent.bad-request', message: `${method} takes a JSON document`, hint: 'See docs/dbus-api.md', cause: e });
  }
}

/** agentd runs with PrivateTmp=yes: a file under /tmp of the caller is not the agent's. */
function privateTmpHint(e: unknown, path: string): unknown {
  if (!isAgentError(e, 'image.not-found') || !/^\/(var\/)?tmp\//.test(path)) return e;
  return new AgentError({
    code: 'image.not-found',
    message: e.message,
    subject: path,
    hint: 'agentd has its own /tmp and /var/tmp (PrivateTmp=yes) and does not see this file: move it to another directory, e.g. /root',
    cause: e,
  });
}

/**
 * Writes the stored image at `dir` as an uncompressed ACI at `file` (manifest first, then
 * rootfs/, with owners, modes, mtimes and xattrs), atomically. The new tar is not
 * byte-identical to the one fetched, so its sha512 differs from the image ID.
 */
export async function exportImage(dir: string, file: string): Promise<void> {
  if (await stat(file).catch(() => undefined)) {
    throw new AgentError({ code: 'image.export-exists', message: 'the file exists already', subject: file, hint: 'Remove it first or give another file name' });
  }
  const temp = tempPathFor(resolve(file));
  try {
    await run('tar', ['--create', '--format=pax', '--numeric-owner', '--xattrs', '--xattrs-include=*', `--file=${temp}`, `--directory=${dir}`, 'manifest', 'rootfs']);
    await commitTemp(temp, resolve(file));
  } catch (e) {
    await rm(temp, { force: true });
    if (e instanceof AgentError) throw e;
    throw new AgentError({
      code: 'image.export-failed',
      message: `cannot write the image (${((e as { stderr?: string }).stderr ?? (e as Error).message).trim().split('\n')[0]})`,
      subject: file,
      hint: 'Check that the directory exists and that you may write to it (as root: the store is readable by root only)',
      cause: e,
    });
  }
}
