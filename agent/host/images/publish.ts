/**
 * Publishes a signed image into a directory tree that any static web server can serve for
 * appc discovery and auto-update (the layout is publishPlan's, agent/core/appc/build.ts):
 *
 *   TREE/PATH/index.html                          the ac-discovery page of HOST/PATH
 *   TREE/PATH/BASE-VERSION-OS-ARCH.aci[.asc]       this version
 *   TREE/PATH/BASE-latest-OS-ARCH.aci[.asc]        copies of the newest published
 *
 * The image must be signed (IMAGE.asc beside it). Each file is written to a temp path and
 * renamed, the signature before the image, so a client never reads an image without its
 * signature. `latest` moves only forward: publishing an older version leaves it alone.
 */
import { createReadStream } from 'node:fs';
import { copyFile, open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { LATEST, publishPlan } from '../../core/appc/build.js';
import { isArchiveFormat, sniffFormat, SNIFF_BYTES } from '../../core/appc/compression.js';
import { validateImageManifest, type ImageManifest } from '../../core/appc/manifest.js';
import { compareSemVer, parseSemVer } from '../../core/appc/semver.js';
import { parseManifestText } from '../../core/appc/validate.js';
import { AgentError } from '../../core/errors.js';
import { commitTemp, tempPathFor, writeFileAtomic } from '../fs/atomic.js';
import { decompress, type ArchiveFormat } from '../stream/decompress.js';
import { DEFAULT_EXTRACT_LIMITS } from './extract.js';
import { peekManifest } from './peek.js';

/** The manifest of an image file. */
export async function readImageManifest(image: string): Promise<ImageManifest> {
  const handle = await open(image, 'r').catch((e: unknown) => {
    throw new AgentError({ code: 'image.not-found', message: 'cannot read the image', subject: image, hint: 'Check the path', cause: e });
  });
  const head = Buffer.alloc(SNIFF_BYTES);
  const { bytesRead } = await handle.read(head, 0, SNIFF_BYTES, 0).finally(() => handle.close());
  const format = sniffFormat(head.subarray(0, bytesRead));
  if (!isArchiveFormat(format)) {
    throw new AgentError({ code: 'image.not-an-archive', message: 'not an image archive', subject: image, hint: 'Give an .aci file (agentctl image build)' });
  }
  const tar = decompress(createReadStream(image), format as ArchiveFormat, image);
  return validateImageManifest(parseManifestText((await peekManifest(tar, image, DEFAULT_EXTRACT_LIMITS)).toString('utf8')));
}

async function copyAtomic(from: string, to: string): Promise<void> {
  const temp = tempPathFor(to);
  try {
    await copyFile(from, temp);
    await commitTemp(temp, to);
  } catch (e) {
    await rm(temp, { force: true });
    throw e;
  }
}

/** The version `latest` holds now, read from the latest image's manifest; undefined when none. */
async function latestVersion(file: string): Promise<string | undefined> {
  const exists = await readFile(file).then(() => true, () => false);
  if (!exists) return undefined;
  return (await readImageManifest(file)).labels.find((l) => l.name === 'version')?.value;
}

export interface Published {
  /** Files written, relative to the tree. */
  files: string[];
  /** The discovery template on the page. */
  template: string;
  /** True when `latest` now points at this version. */
  latest: boolean;
}

/** Publishes `image` (and `image.asc`) into `tree`, with URLs under `baseUrl`. */
export async function publishImage(image: string, tree: string, baseUrl: string): Promise<Published> {
  const signature = `${image}.asc`;
  await readFile(signature).catch((e: unknown) => {
    throw new AgentError({ code: 'image.unsigned', message: 'the image has no signature beside it', subject: signature, hint: `Sign it first: agentctl image sign ${image} --key KEYFILE`, cause: e });
  });
  const manifest = await readImageManifest(image);
  const plan = publishPlan(manifest, baseUrl);
  const dir = join(tree, plan.dir);
  const version = manifest.labels.find((l) => l.name === 'version')!.value;
  const current = await latestVersion(join(dir, `${plan.latest}.aci`));
  const moveLatest = current === undefined || current === LATEST || !olderThan(version, current);
  const files: string[] = [];
  const put = async (from: string, name: string) => {
    await copyAtomic(from, join(dir, name));
    files.push(join(plan.dir, name));
  };
  await writeFileAtomic(join(dir, 'index.html'), plan.page, { mkdirs: true });
  files.push(join(plan.dir, 'index.html'));
  for (const base of moveLatest ? [plan.versioned, plan.latest] : [plan.versioned]) {
    await put(signature, `${base}.aci.asc`);
    await put(image, `${base}.aci`);
  }
  return { files, template: plan.template, latest: moveLatest };
}

/** True when both are SemVers and `a` is the older; other versions never hold `latest` back. */
function olderThan(a: string, b: string): boolean {
  const [va, vb] = [parseSemVer(a), parseSemVer(b)];
  return typeof va !== 'string' && typeof vb !== 'string' && compareSemVer(va, vb) < 0;
}
