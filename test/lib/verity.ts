/**
 * dm-verity test images made by the reference tool, `veritysetup format` (never our code),
 * with a fixed salt so root hashes are reproducible: the data, then the hash area appended
 * at `hashOffset` (Flatcar) or as a separate hash image (systemd-repart's verity partition),
 * and the `payload.verity` fields a release carries for it.
 */
import { execFile } from 'node:child_process';
import { readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const TEST_SALT = '5a17ed0fc0ffee0123456789abcdef00';

export interface VerityFields {
  rootHash: string;
  salt: string;
  hashAlgorithm: 'sha256';
  dataBlockSize: number;
  hashBlockSize: number;
  dataBlocks: number;
  hashTree: 'appended' | 'partition';
  hashOffset?: number;
  superblock: boolean;
}

export interface VerityImage {
  /** What the release's payload is: data + hash area (appended at hashOffset, or concatenated). */
  payload: Buffer;
  verity: VerityFields;
  /** Offset of the hash area in `payload`. */
  hashAreaAt: number;
}

/**
 * Format `data` (a multiple of 4096 bytes) in `dir` with veritysetup. `appended`: the hash
 * area at `data.length` of the same file; `partition`: a separate hash file, concatenated.
 */
export async function makeVerityImage(dir: string, data: Buffer, layout: 'appended' | 'partition', superblock = true): Promise<VerityImage> {
  if (data.length % 4096 !== 0) throw new Error('makeVerityImage: data must be whole 4 KiB blocks');
  const dataPath = join(dir, `verity-${layout}.img`);
  const hashPath = layout === 'appended' ? dataPath : join(dir, `verity-${layout}.hash`);
  await writeFile(dataPath, data);
  if (layout === 'partition') await writeFile(hashPath, '');
  const dataBlocks = data.length / 4096;
  const { stdout } = await run('veritysetup', [
    'format', dataPath, hashPath, `--salt=${TEST_SALT}`, '--hash=sha256', '--data-block-size=4096', '--hash-block-size=4096',
    `--data-blocks=${dataBlocks}`, ...(layout === 'appended' ? [`--hash-offset=${data.length}`] : []), ...(superblock ? [] : ['--no-superblock']),
  ]);
  const rootHash = /^Root hash:\s+([0-9a-f]+)$/m.exec(stdout)?.[1];
  if (!rootHash) throw new Error(`veritysetup format printed no root hash:\n${stdout}`);
  const payload = layout === 'appended' ? await readFile(dataPath) : Buffer.concat([data, await readFile(hashPath)]);
  await truncate(dataPath, 0);
  return {
    payload,
    hashAreaAt: data.length,
    verity: {
      rootHash, salt: TEST_SALT, hashAlgorithm: 'sha256', dataBlockSize: 4096, hashBlockSize: 4096, dataBlocks,
      hashTree: layout, ...(layout === 'appended' && { hashOffset: data.length }), superblock,
    },
  };
}
