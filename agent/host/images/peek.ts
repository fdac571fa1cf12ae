/**
 * Reads the `manifest` entry of an image's tar stream without writing anything, so that
 * the image name is known (and its signature checked against the keys trusted for it)
 * before extraction. Stops reading as soon as the manifest is found; caps its size and,
 * as extraction does, each entry's metadata.
 */
import type { Readable } from 'node:stream';
import { extract as tarExtract } from 'tar-stream';
import { AgentError } from '../../core/errors.js';
import { asArchiveError, checkEntryMetadata, entryComponents, type ExtractLimits } from './extract.js';

/** The raw bytes of the archive's `manifest`; throws `image.no-manifest` when it has none. */
export async function peekManifest(tar: Readable, image: string, limits: Pick<ExtractLimits, 'maxManifestBytes' | 'maxEntryMetadataBytes'>): Promise<Buffer> {
  const maxBytes = limits.maxManifestBytes;
  const parser = tarExtract();
  tar.on('error', (e) => parser.destroy(e));
  tar.pipe(parser);
  try {
    for await (const entry of parser) {
      checkEntryMetadata(entry.header, image, limits.maxEntryMetadataBytes);
      const parts = entryComponents(entry.header.name, image);
      if (parts.length !== 1 || parts[0] !== 'manifest' || (entry.header.type ?? 'file') !== 'file') {
        entry.resume();
        continue;
      }
      if ((entry.header.size ?? 0) > maxBytes) {
        throw new AgentError({
          code: 'image.unsafe-archive',
          message: `the manifest is larger than ${maxBytes} bytes`,
          subject: image,
          hint: 'The image is malformed or malicious and was not stored: do not use it, and tell its publisher',
        });
      }
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    }
  } catch (e) {
    throw asArchiveError(e, image);
  } finally {
    tar.destroy();
  }
  throw new AgentError({
    code: 'image.no-manifest',
    message: 'the archive has no manifest',
    subject: image,
    hint: 'An App Container Image holds a "manifest" file and a "rootfs/" directory: build it with an ACI tool such as actool',
  });
}
