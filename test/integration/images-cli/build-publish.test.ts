/**
 * agentctl image build, sign and publish end to end, with no agent: a directory becomes a
 * reproducible image (sorted entries, fixed mtimes, owners 0:0), is signed with a gpg-made
 * key exported as an armored secret key, published into the root of a real HTTPS server on
 * loopback, and fetched back by name through appc discovery (the page publish wrote, its
 * template, the versioned and latest files), verified against the trusted key.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ImageSummary } from '../../../agent/api/agent1.js';
import { agentctl } from '../../lib/agent.js';
import { makeGpg, type GpgKey, type Gpg } from '../../lib/gpg.js';
import { makeTestCa, startHttpsServer, type TestHttpsServer } from '../../lib/https.js';
import { tmpdir } from '../../lib/tmpdir.js';

const run = promisify(execFile);
const NAME = 'localhost/tools/hello';
const cleanups: Array<() => unknown> = [];
const suite = { after: (fn: () => unknown) => cleanups.push(fn) };
let dir: string;
let gpg: Gpg;
let key: GpgKey;
let server: TestHttpsServer;
let env: NodeJS.ProcessEnv;

async function ctl(args: string[]): Promise<string> {
  const r = await agentctl(args, { env });
  assert.equal(r.code, 0, `agentctl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

async function rootfs(version: string): Promise<string> {
  const root = join(dir, `root-${version}`);
  await mkdir(join(root, 'www/z'), { recursive: true });
  await mkdir(join(root, 'bin'), { recursive: true });
  await writeFile(join(root, 'www/index.html'), `hello ${version}\n`);
  await writeFile(join(root, 'www/z/b'), 'b\n');
  await writeFile(join(root, 'www/a'), 'a\n', { mode: 0o600 });
  await symlink('../www/index.html', join(root, 'bin/page'));
  return root;
}

/** Builds, signs and publishes `version`; returns the image file. */
async function release(version: string): Promise<string> {
  const out = join(dir, `hello-${version}.aci`);
  await ctl(['image', 'build', await rootfs(version), '--name', NAME, '--version', version, '--exec', '/bin/sh -c "exit 0"', '--label', 'channel=stable', '--output', out]);
  await ctl(['image', 'sign', out, '--key', join(dir, 'key.sec')]);
  await ctl(['image', 'publish', out, server.root]);
  return out;
}

before(async () => {
  dir = await tmpdir(suite, 'build-publish-');
  gpg = await makeGpg(suite);
  key = await gpg.newKey('Hello Publisher <hello@localhost>');
  await writeFile(join(dir, 'key.sec'), await gpg.exportSecret(key), { mode: 0o600 });
  await writeFile(join(dir, 'key.pub'), key.armored);
  await mkdir(join(dir, 'www'));
  server = await startHttpsServer(suite, join(dir, 'www'), await makeTestCa(suite));
  await writeFile(join(dir, 'ca.pem'), server.ca);
  env = {
    ...process.env,
    NODE_EXTRA_CA_CERTS: join(dir, 'ca.pem'),
    HOST_AGENT_DISCOVERY_PORT: String(server.port),
    HOST_AGENT_STATE_DIR: join(dir, 'state'),
    HOST_AGENT_TRUST_DIR: join(dir, 'trust'),
    HOST_AGENT_SYSTEM_TRUST_DIR: join(dir, 'system-trust'),
    // No agent on this bus: agentctl works directly on the store.
    HOST_AGENT_BUS: 'system',
    DBUS_SYSTEM_BUS_ADDRESS: `unix:path=${join(dir, 'no-bus')}`,
  };
});

after(async () => {
  for (const fn of cleanups.reverse()) await fn();
});

test('build is reproducible and lays the archive out as actool build does', async () => {
  const root = await rootfs('0.1.0');
  const args = ['image', 'build', root, '--name', NAME, '--version', '0.1.0', '--exec', '["/bin/sh", "-c", "echo hi"]'];
  await ctl([...args, '--output', join(dir, 'one.aci')]);
  await ctl([...args, '--output', join(dir, 'two.aci')]);
  assert.deepEqual(await readFile(join(dir, 'one.aci')), await readFile(join(dir, 'two.aci')));
  const { stdout } = await run('tar', ['--numeric-owner', '--full-time', '-tvf', join(dir, 'one.aci')]);
  const lines = stdout.trim().split('\n').map((l) => l.split(/\s+/));
  assert.deepEqual(lines.map((l) => l[5]), ['manifest', 'rootfs/', 'rootfs/bin/', 'rootfs/bin/page', 'rootfs/www/', 'rootfs/www/a', 'rootfs/www/index.html', 'rootfs/www/z/', 'rootfs/www/z/b']);
  for (const l of lines) {
    assert.equal(l[1], '0/0', l.join(' '));
    assert.equal(`${l[3]} ${l[4]}`, '2000-01-01 00:00:00', l.join(' '));
  }
  assert.equal(lines[5]![0], '-rw-------');
  assert.match(await ctl(['image', 'validate', join(dir, 'one.aci')]), /valid image archive \(tar\) of localhost\/tools\/hello/);
  const manifest = JSON.parse((await run('tar', ['-xOf', join(dir, 'one.aci'), 'manifest'])).stdout) as { labels: unknown; app: unknown };
  assert.deepEqual(manifest.labels, [{ name: 'version', value: '0.1.0' }, { name: 'os', value: 'linux' }, { name: 'arch', value: 'amd64' }]);
  assert.deepEqual(manifest.app, { exec: ['/bin/sh', '-c', 'echo hi'], user: '0', group: '0' });
});

test('an invalid name or label is refused before anything is written', async () => {
  const r = await agentctl(['image', 'build', dir, '--name', 'Not A Name', '--version', '1.0.0', '--output', join(dir, 'bad.aci')], { env });
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stderr, /name/);
  const l = await agentctl(['image', 'build', dir, '--name', NAME, '--version', '1.0.0', '--label', 'version=2', '--output', join(dir, 'bad.aci')], { env });
  assert.equal(l.code, 1);
  assert.match(l.stderr, /label version is given twice/);
  await assert.rejects(readFile(join(dir, 'bad.aci')));
});

test('what publish lays out is found by discovery, verified and stored; latest follows the newest', async () => {
  await ctl(['trust', '--prefix', 'localhost/tools', join(dir, 'key.pub')]);
  await release('1.0.0');
  const page = await readFile(join(server.root, 'tools/hello/index.html'), 'utf8');
  assert.match(page, new RegExp(`<meta name="ac-discovery" content="${NAME} https://localhost:${server.port}/tools/hello/hello-\\{version\\}-\\{os\\}-\\{arch\\}\\.\\{ext\\}">`));

  const id1 = (await ctl(['fetch', `${NAME}:1.0.0`])).trim().split('\n').pop()!;
  assert.match(id1, /^sha512-/);
  assert.ok(server.requests.includes('/tools/hello?ac-discovery=1'), server.requests.join(' '));
  assert.ok(server.requests.includes('/tools/hello/hello-1.0.0-linux-amd64.aci'));

  await release('2.0.0');
  await release('1.5.0'); // older: latest stays at 2.0.0
  const idLatest = (await ctl(['fetch', NAME])).trim().split('\n').pop()!;
  assert.ok(server.requests.includes('/tools/hello/hello-latest-linux-amd64.aci'));
  const images = JSON.parse(await ctl(['image', 'list', '--json'])) as ImageSummary[];
  const latest = images.find((i) => i.id === idLatest)!;
  assert.equal(latest.labels.find((l) => l.name === 'version')?.value, '2.0.0');
  assert.notEqual(idLatest, id1);
});

test('an unsigned image is not published; a v4 key is needed to sign', async () => {
  const out = join(dir, 'unsigned.aci');
  await ctl(['image', 'build', await rootfs('9.0.0'), '--name', NAME, '--version', '9.0.0', '--output', out]);
  const r = await agentctl(['image', 'publish', out, server.root], { env });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /no signature beside it[\s\S]*agentctl image sign/);
  const s = await agentctl(['image', 'sign', out, '--key', join(dir, 'key.pub')], { env });
  assert.equal(s.code, 1);
  assert.match(s.stderr, /not an armored OpenPGP private key/);
});
