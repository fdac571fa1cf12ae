/**
 * scripts/demo as a new user meets it (issue 16, items 1–3): two fresh clones under /tmp
 * run their demos side by side (each its own sandbox, web and image ports, v1 cgroups),
 * each healthy; `scripts/demo env` points agentctl's config, trust and image verbs at its
 * own demo; `scripts/demo logs` shows agentd's output; a demo whose container does not
 * come up fails with the agent's last log lines; `scripts/demo stop` leaves nothing
 * running. Not part of plain scripts/test (minutes): `scripts/test test/e2e/demo.test.ts`.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { access, mkdtemp, readFile, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO } from '../lib/repo.js';

const run = promisify(execFile);
let base: string | undefined;
const clones: string[] = [];

after(async () => {
  for (const clone of clones) await run('scripts/demo', ['stop'], { cwd: clone }).catch(() => undefined);
  if (base) await rm(base, { recursive: true, force: true });
});

function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('HOST_AGENT_') || k === 'NODE_EXTRA_CA_CERTS' || k.startsWith('XDG_') || k === 'DBUS_SESSION_BUS_ADDRESS') delete env[k];
  return env;
}

/** Runs `script` in bash in `cwd`; output is stdout and stderr together. */
function sh(cwd: string, script: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', script], { cwd, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

async function clone(name: string): Promise<string> {
  const dir = join(base!, name);
  const { stdout: head } = await run('git', ['-C', REPO, 'rev-parse', 'HEAD']);
  await run('git', ['clone', '--quiet', '--no-checkout', REPO, dir]);
  await run('git', ['-C', dir, 'checkout', '--quiet', head.trim()]);
  await symlink(await realpath(join(REPO, 'node_modules')), join(dir, 'node_modules'));
  clones.push(dir);
  return dir;
}

test('two demos from clones under /tmp run side by side, each healthy and on its own paths', { timeout: 15 * 60_000 }, async () => {
  base = await mkdtemp('/tmp/host-agent-demo-');
  const [a, b] = [await clone('a'), await clone('b')];
  const ports: string[] = [];
  for (const dir of [a, b]) {
    const r = await sh(dir, 'scripts/demo');
    assert.equal(r.code, 0, r.output.slice(-4000));
    const port = /serving http:\/\/127\.0\.0\.1:(\d+)\//.exec(r.output)?.[1];
    assert.ok(port, r.output.slice(-2000));
    ports.push(port);
  }
  assert.notEqual(ports[0], ports[1]);
  for (const [i, dir] of [a, b].entries()) {
    const r = await sh(dir, `set -e; eval "$(scripts/demo env)"
curl -fsS http://127.0.0.1:${ports[i]}/
agentctl ps
agentctl config show | grep -c hello-web
agentctl trust list
agentctl image list
scripts/demo logs | tail -n 3`);
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /hello from a host-agent container/);
    assert.match(r.output, /^hello-web +demo\.example\/busybox:1\.0\.0 +1\.0\.0 +running .* 0$/m, 'no restarts: the other demo takes nothing from it');
    assert.match(r.output, /demo\.example\/busybox +admin/);
    assert.match(r.output, /INFO /);
    // The key of this demo is in this demo's trust directory, not the machine's.
    await access(join(dir, '.sandbox/demo/trust'));
  }
});

test('a demo whose container does not come up fails and shows the agent\'s last lines', { timeout: 10 * 60_000 }, async () => {
  const dir = clones[1]!;
  await writeFile(join(dir, '.sandbox/demo/config.d/90-broken.yaml'), '#cloud-config\nhost-agent:\n  containers:\n    - name: hello-web\n      image: demo.example/busybox:9.9.9\n');
  const r = await sh(dir, 'scripts/demo');
  assert.equal(r.code, 1, r.output.slice(-3000));
  assert.match(r.output, /demo: the demo container hello-web is not serving/);
  assert.match(r.output, /the last lines of agentd's output/);
  assert.match(r.output, /\d{4}-\d\d-\d\dT.*(ERROR|WARN)/);
});

test('scripts/demo stop leaves nothing running', { timeout: 5 * 60_000 }, async () => {
  for (const dir of clones) {
    const pid = await readFile(join(dir, '.sandbox/demo/systemd.pid'), 'utf8').catch(() => '');
    const r = await sh(dir, 'scripts/demo stop');
    assert.equal(r.code, 0, r.output);
    if (pid) assert.throws(() => process.kill(Number(pid), 0), 'the sandbox manager is gone');
  }
});
