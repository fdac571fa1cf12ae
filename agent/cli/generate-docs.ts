/**
 * Writes the man pages and the bash completion into a directory (scripts/install runs it
 * from dist/): DIR/man1/agentctl.1, DIR/man5/host-agent-cloud-config.5,
 * DIR/man8/agentd.8 and DIR/bash-completion/agentctl.
 *
 *   node dist/agent/cli/generate-docs.js DIR
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLOUD_CONFIG } from '../core/config/root-schema.js';
import { AGENTD_OPTIONS, AGENTD_SUMMARY } from '../daemon/options.js';
import { packageVersion } from '../host/version.js';
import { bashCompletionScript } from './completion.js';
import { agentctlManPage, agentdManPage, cloudConfigManPage } from './man.js';
import { VERBS } from './verbs/index.js';

export async function generateDocs(dir: string): Promise<string[]> {
  const version = packageVersion();
  const verbs = await Promise.all(VERBS.map(async (entry) => ({ entry, verb: await entry.load() })));
  const files: Array<[string, string]> = [
    ['man1/agentctl.1', agentctlManPage(verbs, version)],
    ['man8/agentd.8', agentdManPage(AGENTD_OPTIONS, AGENTD_SUMMARY, version)],
    ['man5/host-agent-cloud-config.5', cloudConfigManPage(CLOUD_CONFIG, version)],
    ['bash-completion/agentctl', bashCompletionScript()],
  ];
  for (const [path, text] of files) {
    await mkdir(join(dir, path, '..'), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  return files.map(([path]) => join(dir, path));
}

// Run as a program (not imported by a test): write into the directory given.
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dir = process.argv[2];
  if (dir === undefined) {
    process.stderr.write('Usage: generate-docs DIR\n');
    process.exitCode = 2;
  } else {
    for (const file of await generateDocs(dir)) process.stdout.write(`${file}\n`);
  }
}
