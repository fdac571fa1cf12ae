/**
 * `agentctl image validate FILE`, as `actool validate` does it: a manifest (JSON text,
 * either kind) or an image archive (plain, gzip, bzip2 or xz, by magic bytes), whose
 * layout is checked entry by entry and whose manifest is validated. Nothing is written.
 */
import { createReadStream } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { extract as tarExtract } from 'tar-stream';
import { AgentError } from '../../core/errors.js';
import { isArchiveFormat, sniffFormat, SNIFF_BYTES } from '../../core/appc/compression.js';
import { createLayoutChecker } from '../../core/appc/layout.js';
import { validateImageManifest } from '../../core/appc/manifest.js';
import { parseManifestText, validateManifest } from '../../core/appc/validate.js';
import { decompress, type ArchiveFormat } from '../../host/stream/decompress.js';
import { asArchiveError } from '../../host/images/extract.js';

const MAX_MANIFEST_BYTES = 1024 ** 2;

async function head(path: string): Promise<Buffer> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (e) {
    throw new AgentError({
      code: 'image.not-found',
      message: `cannot read the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
      subject: path,
      hint: 'Check the path',
      cause: e,
    });
  }
  try {
    const buf = Buffer.alloc(SNIFF_BYTES);
    const { bytesRead } = await handle.read(buf, 0, SNIFF_BYTES, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** Checks the archive's layout and manifest; returns the manifest's name. */
async function validateArchive(path: string, format: ArchiveFormat): Promise<string> {
  const layout = createLayoutChecker();
  const parser = tarExtract();
  const tar = decompress(createReadStream(path, { highWaterMark: 1 << 20 }), format, path);
  tar.on('error', (e) => parser.destroy(e));
  tar.pipe(parser);
  let name: string | undefined;
  try {
    for await (const entry of parser) {
      const kind = layout.add({ name: entry.header.name, type: entry.header.type ?? 'file' }).kind;
      if (kind !== 'manifest') {
        entry.resume();
        continue;
      }
      if ((entry.header.size ?? 0) > MAX_MANIFEST_BYTES) {
        throw new AgentError({ code: 'appc.invalid-manifest', message: `the manifest is larger than ${MAX_MANIFEST_BYTES} bytes`, subject: path, hint: 'An image manifest is a small JSON document' });
      }
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      name = validateImageManifest(parseManifestText(Buffer.concat(chunks).toString('utf8'))).name;
    }
  } catch (e) {
    tar.destroy();
    throw asArchiveError(e, path);
  }
  layout.finish();
  return name!;
}

/** Validates FILE; resolves with a description of what is valid, throws what is not. */
export async function validateImageFile(path: string): Promise<string> {
  const format = sniffFormat(await head(path));
  try {
    if (isArchiveFormat(format)) return `valid image archive (${format}) of ${await validateArchive(path, format as ArchiveFormat)}`;
    const checked = validateManifest(parseManifestText(await readFile(path, 'utf8')));
    return `valid ${checked.kind}${checked.kind === 'ImageManifest' ? ` of ${checked.manifest.name}` : ''}`;
  } catch (e) {
    if (!(e instanceof AgentError) || e.subject === path) throw e;
    // Name the file first; the part of it at fault (e.g. an archive entry) stays in the message.
    const where = e.subject && e.subject !== 'manifest' ? `${e.subject}: ` : '';
    throw new AgentError({ code: e.code, message: `${where}${e.message}`, subject: path, ...(e.hint !== undefined && { hint: e.hint }), cause: e });
  }
}
