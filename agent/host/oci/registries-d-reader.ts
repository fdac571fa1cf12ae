/**
 * Reads a registries.d directory: every `*.yaml` file in name order, parsed and merged by
 * agent/core/oci/registries-d.ts. A missing directory is an empty configuration (no
 * signature storage anywhere), as in containers/image.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { AgentError } from '../../core/errors.js';
import { mergeRegistriesD, type RegistriesD, type RegistriesDFile } from '../../core/oci/registries-d.js';

export const DEFAULT_REGISTRIES_D = '/etc/host-agent/registries.d';

export async function readRegistriesD(dir: string): Promise<RegistriesD> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.yaml')).sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { docker: {} };
    throw e;
  }
  const files: RegistriesDFile[] = [];
  for (const name of names) {
    const file = join(dir, name);
    const text = await readFile(file, 'utf8');
    try {
      files.push({ file, document: parse(text) as unknown });
    } catch (e) {
      throw new AgentError({
        code: 'image.registries-d-invalid',
        message: `not valid YAML: ${(e as Error).message.split('\n')[0]}`,
        subject: file,
        hint: 'Fix the file (containers-registries.d(5))',
        cause: e,
      });
    }
  }
  return mergeRegistriesD(files);
}
