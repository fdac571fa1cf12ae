/**
 * scripts/demo checks its own health (issue 16, item 1): from a fresh clone under /tmp,
 * with a drop-in that declares an image nobody has for the demo container, the demo exits
 * 1, says what is not up, and prints agentd's last log lines (the sandbox has no journal).
 * Not part of plain scripts/test: `scripts/test test/e2e/demo-health.test.ts`.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bash, freshClone, stopDemo } from './lib/clone.js';

let base: string | undefined;

after(async () => {
  if (base) await stopDemo(join(base, 'host-agent'));
  if (base) await rm(base, { recursive: true, force: true });
});

test('a demo whose container does not come up fails and shows the agent\'s last lines', { timeout: 230_000 }, async () => {
  base = await mkdtemp('/tmp/host-agent-demo-health-');
  const dir = join(base, 'host-agent');
  await freshClone(dir);
  await mkdir(join(dir, '.sandbox/demo/config.d'), { recursive: true });
  await writeFile(join(dir, '.sandbox/demo/config.d/90-broken.yaml'), '#cloud-config\nhost-agent:\n  containers:\n    - name: hello-web\n      image: demo.example/busybox:9.9.9\n');
  const r = await bash(dir, 'scripts/demo');
  assert.equal(r.code, 1, r.output.slice(-3000));
  assert.match(r.output, /demo: the demo container hello-web is not serving on 127\.0\.0\.1:\d+ \(state: \w+; agentctl logs hello-web\)/);
  assert.match(r.output, /the last lines of agentd's output \(.*agentd\.log; scripts\/demo logs\)/);
  assert.match(r.output, /\d{4}-\d\d-\d\dT\S+ (ERROR|WARN) /);
  assert.doesNotMatch(r.output, /The demo host is running/);
});
