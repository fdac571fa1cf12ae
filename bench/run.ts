/**
 * npm run bench: runs every bench/*.bench.ts (or those named on the command line) and
 * prints each one's ratios against its same-run baseline. Exit 1 if a target is missed.
 */
import { readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('.', import.meta.url));
const wanted = process.argv.slice(2);
const files = (await readdir(dir)).filter((f) => f.endsWith('.bench.ts') && (wanted.length === 0 || wanted.some((w) => f.includes(w)))).sort();
let allMet = true;
for (const file of files) {
  const mod = (await import(new URL(file, import.meta.url).href)) as { run: () => Promise<boolean> };
  allMet = (await mod.run()) && allMet;
}
process.exitCode = allMet ? 0 : 1;
