/**
 * agentctl image SUBVERB: validate a manifest or an archive (no agent needed), and list,
 * remove, garbage-collect, show and export stored images — through agentd when it runs,
 * directly on the store otherwise (image-backend.ts); show container image auto-update
 * (image-updates.ts, agentd only).
 */
import type { ImageSummary } from '../../api/agent1.js';
import { AgentError } from '../../core/errors.js';
import { shortImageId } from '../../core/image/id.js';
import { labelOf } from '../../core/image/match.js';
import { parseGoDuration } from '../../core/schedule/window.js';
import { humanDuration } from '../render/duration.js';
import { renderTable } from '../render/table.js';
import { argumentCount } from '../usage.js';
import { EXIT, type CliContext, type Verb, type VerbArgs } from '../verb.js';
import { STORE_HELP, STORE_OPTIONS, withImages } from './image-backend.js';
import { BUILD_HELP, BUILD_OPTIONS, BUILD_SYNOPSIS, buildOptions, PUBLISH_SYNOPSIS, SIGN_SYNOPSIS } from './image-build.js';

interface Subverb {
  synopsis: string;
  args: { min: number; max: number };
  /** Options of this subverb besides the store paths. */
  options: string[];
  run(ctx: CliContext, args: VerbArgs): Promise<number>;
}

const DEFAULT_GRACE = '24h';

function usage(message: string, hint = 'See agentctl image --help'): AgentError {
  return new AgentError({ code: 'cli.usage', message, hint });
}

export function humanSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

function ago(iso: string | null, now: Date): string {
  if (iso === null) return 'never';
  return `${humanDuration((now.getTime() - Date.parse(iso)) / 1000)} ago`;
}

export function renderImages(images: ImageSummary[], now = new Date()): string {
  if (images.length === 0) return 'No images. Fetch one with: agentctl fetch IMAGE\n';
  return renderTable(images, [
    { header: 'ID', value: (i) => shortImageId(i.id) },
    { header: 'FORMAT', value: (i) => i.format },
    { header: 'NAME', value: (i) => i.name },
    { header: 'VERSION', value: (i) => labelOf(i, 'version') ?? '-' },
    { header: 'SIZE', value: (i) => humanSize(i.size) },
    { header: 'IMPORTED', value: (i) => ago(i.imported, now) },
    { header: 'LAST USED', value: (i) => ago(i.lastUsed, now) },
    { header: 'REFERENCE', value: (i) => (i.format === 'oci' ? i.source : '-') },
    { header: 'DIGEST', value: (i) => (i.format === 'oci' ? `sha256:${i.id.slice('sha256-'.length)}` : '-') },
  ]);
}

const SUBVERBS: Record<string, Subverb> = {
  validate: {
    synopsis: 'validate FILE',
    args: { min: 1, max: 1 },
    options: [],
    async run(ctx, { positionals }) {
      const { validateImageFile } = await import('./image-validate.js');
      const file = positionals[0]!;
      ctx.stdout.write(`${file}: ${await validateImageFile(file)}\n`);
      return EXIT.ok;
    },
  },
  list: {
    synopsis: 'list [--json]',
    args: { min: 0, max: 0 },
    options: ['json'],
    async run(ctx, { values }) {
      const images = await withImages(ctx, values, (b) => b.list());
      ctx.stdout.write(values.json ? `${JSON.stringify(images, null, 2)}\n` : renderImages(images));
      return EXIT.ok;
    },
  },
  rm: {
    synopsis: 'rm ID|NAME…',
    args: { min: 1, max: Infinity },
    options: [],
    async run(ctx, { values, positionals }) {
      for (const ref of positionals) {
        const removed = await withImages(ctx, values, (b) => b.remove(ref));
        ctx.stdout.write(`removed ${removed.id} (${removed.name})\n`);
      }
      return EXIT.ok;
    },
  },
  gc: {
    synopsis: `gc [--grace DURATION]`,
    args: { min: 0, max: 0 },
    options: ['grace'],
    async run(ctx, { values }) {
      const text = typeof values.grace === 'string' ? values.grace : DEFAULT_GRACE;
      const parsed = parseGoDuration(text);
      if (!parsed.ok || parsed.value < 0) throw usage(parsed.ok ? `--grace ${text} is negative` : parsed.problem, 'Give a duration such as 24h, 90m or 0');
      const { removed } = await withImages(ctx, values, (b) => b.gc(parsed.value / 1000));
      for (const image of removed) ctx.stdout.write(`removed ${image.id} (${image.name})\n`);
      if (removed.length === 0) ctx.stdout.write(`nothing to remove (images used within ${text} are kept)\n`);
      return EXIT.ok;
    },
  },
  inspect: {
    synopsis: 'inspect ID|NAME',
    args: { min: 1, max: 1 },
    options: [],
    async run(ctx, { values, positionals }) {
      const detail = await withImages(ctx, values, (b) => b.get(positionals[0]!));
      ctx.stdout.write(`${JSON.stringify(detail.record, null, 2)}\n`);
      return EXIT.ok;
    },
  },
  'cat-manifest': {
    synopsis: 'cat-manifest ID|NAME',
    args: { min: 1, max: 1 },
    options: [],
    async run(ctx, { values, positionals }) {
      const detail = await withImages(ctx, values, (b) => b.get(positionals[0]!));
      if (detail.manifest === undefined) {
        throw new AgentError({
          code: 'image.no-manifest',
          message: `image ${detail.image.name} is an ${detail.image.format} image: it has no appc manifest`,
          subject: detail.image.id,
          hint: `See its record with agentctl image inspect ${positionals[0]!}`,
        });
      }
      ctx.stdout.write(`${JSON.stringify(JSON.parse(detail.manifest), null, 2)}\n`);
      return EXIT.ok;
    },
  },
  updates: {
    synopsis: 'updates [--json]',
    args: { min: 0, max: 0 },
    options: ['json'],
    async run(ctx, { values }) {
      const { fetchImageUpdates, renderImageUpdates } = await import('./image-updates.js');
      const doc = await fetchImageUpdates(ctx);
      ctx.stdout.write(values.json ? `${JSON.stringify(doc, null, 2)}\n` : renderImageUpdates(doc, ctx.color));
      return EXIT.ok;
    },
  },
  export: {
    synopsis: 'export ID|NAME FILE',
    args: { min: 2, max: 2 },
    options: [],
    async run(ctx, { values, positionals }) {
      const detail = await withImages(ctx, values, (b) => b.get(positionals[0]!));
      const { exportImage } = await import('../../daemon/image-service.js');
      await exportImage(detail.dir, positionals[1]!);
      ctx.stdout.write(`${detail.image.id}\n`);
      return EXIT.ok;
    },
  },
  build: { synopsis: BUILD_SYNOPSIS, args: { min: 1, max: 1 }, options: ['name', 'version', 'exec', 'label', 'os', 'arch', 'output'], run: async (ctx, args) => (await import('./image-build.js')).build(ctx, args) },
  sign: { synopsis: SIGN_SYNOPSIS, args: { min: 1, max: 1 }, options: ['key', 'passphrase-file'], run: async (ctx, args) => (await import('./image-build.js')).sign(ctx, args) },
  publish: { synopsis: PUBLISH_SYNOPSIS, args: { min: 2, max: 2 }, options: ['base-url'], run: async (ctx, args) => (await import('./image-build.js')).publish(ctx, args) },
};

const ALL_OPTIONS = ['json', 'grace', ...BUILD_OPTIONS];

export const imageVerb: Verb = {
  name: 'image',
  synopsis: Object.values(SUBVERBS).map((s) => s.synopsis).join(' | '),
  help: `  validate FILE            check a manifest (JSON) or an image archive (.aci); exit 1 when invalid
  list [--json]            stored images: ID, format (appc, oci), name, version, size, imported, last used,
                           and for OCI images the reference fetched and the manifest digest
  rm ID|NAME…              remove images (root); refused for an image a container uses,
                           naming the containers (no --force: change them first)
  gc [--grace DURATION]    remove images no container uses, unused for DURATION (default ${DEFAULT_GRACE}) (root)
  inspect ID|NAME          print an image's record (format, name, labels, layers, run config) as JSON
  cat-manifest ID|NAME     print an appc image's manifest
  export ID|NAME FILE      write a stored image as an .aci file (root)
  updates [--json]         image auto-update per container: current, staged and previous
                           image, last result, images rolled back (needs agentd)
${BUILD_HELP}  A NAME may carry labels: example.com/app:1.0.0,channel=stable (the latest import matches).
${STORE_HELP}`,
  options: { json: { type: 'boolean' }, grace: { type: 'string' }, ...buildOptions, ...STORE_OPTIONS },
  positionals: { min: 1, max: Infinity },
  subverbs: Object.keys(SUBVERBS),
  async run(ctx, { values, positionals }) {
    const [name, ...rest] = positionals;
    const sub = SUBVERBS[name!];
    if (!sub) throw usage(`unknown subverb "image ${name}"`, `Subverbs: ${Object.keys(SUBVERBS).join(', ')}`);
    const stray = ALL_OPTIONS.find((o) => values[o] !== undefined && !sub.options.includes(o));
    if (stray) throw usage(`image ${name} has no option --${stray}`, `Usage: agentctl image ${sub.synopsis}`);
    if (rest.length < sub.args.min || rest.length > sub.args.max) {
      throw usage(`image ${name} takes ${argumentCount(sub.args)}, got ${rest.length}`, `Usage: agentctl image ${sub.synopsis}`);
    }
    return sub.run(ctx, { values, positionals: rest });
  },
};
