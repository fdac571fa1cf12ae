/**
 * docs/getting-started.md, run as written: the fenced blocks marked ```sh test``` are run
 * in order, in one bash (`set -euo pipefail`), in a fresh clone of this commit under /tmp
 * — from the demo host to the rollback of a broken v3 — so the guide cannot drift; and
 * README's sample of `agentctl status` is held to the real output, line by line.
 * The clone shares this checkout's node_modules (lib/clone.ts); everything
 * else (the build, the sandbox, the demo CA, keys, images) is made from scratch. The
 * guide's last block stops the demo; the test stops it again (by PID, scripts/demo stop)
 * whatever happened. Not part of plain scripts/test (it takes minutes): run it with
 * `scripts/test test/e2e/getting-started.test.ts`.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO } from '../lib/repo.js';
import { bash, freshClone, stopDemo } from './lib/clone.js';

const run = promisify(execFile);
const TIMEOUT_MS = 280_000; // under scripts/test's 300 s per file, so the clean-up runs

/** The guide's blocks marked for the test, in order. */
export function testBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```sh test\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
}

let base: string | undefined;
let clone: string | undefined;

after(async () => {
  if (clone) await stopDemo(clone);
  if (clone) await run('gpgconf', ['--kill', 'gpg-agent'], { env: { ...process.env, GNUPGHOME: join(clone, 'hello/gnupg') } }).catch(() => undefined);
  if (base) await rm(base, { recursive: true, force: true });
});

test('docs/getting-started.md, from a fresh clone under /tmp: v1 runs, v2 updates, v3 is rolled back', { timeout: TIMEOUT_MS }, async (t) => {
  const blocks = testBlocks(await readFile(join(REPO, 'docs/getting-started.md'), 'utf8'));
  assert.ok(blocks.length >= 8, `the guide has ${blocks.length} blocks marked for the test`);
  base = await mkdtemp('/tmp/host-agent-guide-');
  clone = join(base, 'host-agent');
  await freshClone(clone);

  const script = ['set -euo pipefail', ...blocks.map((b, i) => `echo "=== block ${i + 1}"\n${b}`)].join('\n');
  const started = Date.now();
  const { code, output } = await bash(clone, script);
  const seconds = (Date.now() - started) / 1000;
  t.diagnostic(`the guide ran in ${seconds.toFixed(0)} s (wall time)`);
  assert.equal(code, 0, `the guide failed:\n${output.slice(-6000)}`);

  // The output of each block, by its number (from 1).
  const parts = output.split(/^=== block (\d+)$/m);
  const byBlock = new Map<number, string>();
  for (let i = 1; i + 1 < parts.length; i += 2) byBlock.set(Number(parts[i]), parts[i + 1]!);
  const block = (n: number) => byBlock.get(n) ?? '';
  const v1 = blocks.findIndex((b) => b.includes('50-hello.yaml')) + 1;
  const v2 = blocks.findIndex((b) => b.includes('--version 2.0.0')) + 1;
  const v3 = blocks.findIndex((b) => b.includes('--version 3.0.0')) + 1;
  assert.match(block(v1), /hello v1/);
  assert.match(block(v2), /hello v2/);
  assert.match(block(v3), /rolled back/);
  assert.match(block(v3), /never retried: 3\.0\.0/);
  assert.match(block(v3).trimEnd(), /hello v2$/, 'v2 serves again after the rollback');
  assert.match(output, /demo stopped/);

  // README's sample of `agentctl status` has the lines of the real one (values aside).
  const readme = await readFile(join(REPO, 'README.md'), 'utf8');
  const sample = /^```\n([\s\S]*?)^```$/m.exec(readme.slice(readme.indexOf('## The demo')))![1]!;
  const statusBlock = blocks.findIndex((b) => b.trim() === 'agentctl status') + 1;
  assert.ok(statusBlock > 0, 'the guide shows agentctl status alone in a block');
  assert.deepEqual(lineKeys(sample), lineKeys(block(statusBlock)), `README's sample:\n${sample}\nthe real output:\n${block(statusBlock)}`);
});

/** What each line is, without its values: the label before a colon, or its first word. */
function lineKeys(text: string): string[] {
  return text.trim().split('\n').map((l) => /^\s*([A-Za-z]+):/.exec(l)?.[1] ?? l.trim().split(/\s+/)[0]!);
}
