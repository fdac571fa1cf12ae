/**
 * scripts/demo as a new user meets it (issue 16, items 1–3): two fresh clones under /tmp
 * run their demos side by side (each its own sandbox, web and image ports, v1 cgroups),
 * each healthy; `scripts/demo env` points agentctl's config, trust and image verbs at its
 * own demo; `scripts/demo logs` shows agentd's output; `scripts/demo stop` leaves nothing
 * running (demo-health.test.ts: a demo that is not healthy fails). Not part of plain
 * scripts/test (minutes): `scripts/test test/e2e/demo.test.ts`. The tests' timeouts stay
 * under scripts/test's 300 s per file, so the clean-up always runs.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { bash, freshClone, stopDemo } from './lib/clone.js';

let base: string | undefined;
const clones: string[] = [];

after(async () => {
  for (const clone of clones) await stopDemo(clone);
  if (base) await rm(base, { recursive: true, force: true });
});

test('two demos from clones under /tmp run side by side, each healthy and on its own paths', { timeout: 230_000 }, async () => {
  base = await mkdtemp('/tmp/host-agent-demo-');
  for (const name of ['a', 'b']) {
    clones.push(join(base, name));
    await freshClone(join(base, name));
  }
  const ports: string[] = [];
  for (const dir of clones) {
    const r = await bash(dir, 'scripts/demo');
    assert.equal(r.code, 0, r.output.slice(-4000));
    const port = /serving http:\/\/127\.0\.0\.1:(\d+)\//.exec(r.output)?.[1];
    assert.ok(port, r.output.slice(-2000));
    ports.push(port);
  }
  assert.notEqual(ports[0], ports[1]);
  for (const [i, dir] of clones.entries()) {
    const r = await bash(dir, `set -e; eval "$(scripts/demo env)"
curl -fsS http://127.0.0.1:${ports[i]}/
agentctl ps
agentctl config show | grep -c hello-web
agentctl trust list
agentctl image list
scripts/demo logs | tail -n 3`);
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /hello from a host-agent container/);
    assert.match(r.output, /^hello-web +demo\.example\/busybox:1\.0\.0 +1\.0\.0 +running +\d+ +\S+ +0 +default [\d.]+ +\d+:80\/tcp$/m, 'no restarts: the other demo takes nothing from it');
    assert.match(r.output, /demo\.example\/busybox +admin/);
    assert.match(r.output, /INFO /);
    // The key of this demo is in this demo's trust directory, not the machine's.
    await access(join(dir, '.sandbox/demo/trust'));
  }
});

test('scripts/demo stop leaves nothing running', { timeout: 60_000 }, async () => {
  for (const dir of clones) {
    const pid = await readFile(join(dir, '.sandbox/demo/systemd.pid'), 'utf8').catch(() => '');
    const r = await bash(dir, 'scripts/demo stop');
    assert.equal(r.code, 0, r.output);
    if (pid) assert.throws(() => process.kill(Number(pid), 0), 'the sandbox manager is gone');
  }
});
