/**
 * The configuration loader on real directories: merge order of shipped drop-ins, main file and
 * admin drop-ins; what is skipped and what is an error; bounded reads and decompression; the
 * last good configuration kept across a restart.
 */
import assert from 'node:assert/strict';
import { chmod, mkdir, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { formatEntry } from '../../../agent/core/config/report.js';
import { validateSources } from '../../../agent/core/config/validate.js';
import { readLastGood, saveLastGood } from '../../../agent/host/config/last-good.js';
import {
  boundedGunzip, configFiles, configWatchPaths, loadConfig, type ConfigPaths,
} from '../../../agent/host/config/load.js';
import { tmpdir } from '../../lib/tmpdir.js';

async function layout(t: { after(fn: () => unknown): void }): Promise<ConfigPaths & { root: string }> {
  const root = await tmpdir(t, 'host-agent-config-');
  const paths = {
    root,
    mainFile: join(root, 'etc/host-agent/cloud-config.yaml'),
    systemDropinDir: join(root, 'usr/lib/host-agent/config.d'),
    adminDropinDir: join(root, 'etc/host-agent/config.d'),
  };
  await mkdir(paths.systemDropinDir, { recursive: true });
  await mkdir(paths.adminDropinDir, { recursive: true });
  return paths;
}

const cc = (body: string) => `#cloud-config\n${body}`;
const show = (entries: { file?: string; line: number; level: string; message: string }[]) =>
  entries.map((e) => formatEntry(e as Parameters<typeof formatEntry>[0]));

test('files are merged in order: shipped drop-ins sorted, main file, admin drop-ins sorted', async (t) => {
  const p = await layout(t);
  await writeFile(join(p.systemDropinDir, '20-b.yaml'), cc('hostname: system-b\ncoreos:\n  update: {group: stable}\n'));
  await writeFile(join(p.systemDropinDir, '10-a.yaml'), cc('hostname: system-a\ncoreos:\n  update: {group: alpha, server: "https://u.example.com"}\n'));
  await writeFile(p.mainFile, cc('hostname: main\n'));
  await writeFile(join(p.adminDropinDir, '50-z.yaml'), cc('hostname: admin-z\n'));
  await writeFile(join(p.adminDropinDir, '05-y.yaml'), cc('hostname: admin-y\nbogus: 1\n'));
  // Not drop-ins: other suffixes, hidden files and interrupted atomic writes.
  await writeFile(join(p.adminDropinDir, '99-notes.txt'), 'hostname: no\n');
  await writeFile(join(p.adminDropinDir, '98-other.yml'), cc('hostname: yml\n'));
  await writeFile(join(p.adminDropinDir, '.tmp-90-x.yaml.abc123'), cc('hostname: temp\n'));

  assert.deepEqual((await configFiles(p)).files, [
    join(p.systemDropinDir, '10-a.yaml'), join(p.systemDropinDir, '20-b.yaml'), p.mainFile,
    join(p.adminDropinDir, '05-y.yaml'), join(p.adminDropinDir, '50-z.yaml'),
  ]);
  const loaded = await loadConfig(p);
  assert.equal(loaded.config?.hostname, 'admin-z');
  assert.deepEqual(loaded.config?.update, { group: 'stable', server: 'https://u.example.com' });
  assert.deepEqual(show(loaded.entries), [`${join(p.adminDropinDir, '05-y.yaml')}: line 3: warning: unrecognized key "bogus"`]);
  assert.deepEqual(loaded.files.map((f) => f.file), (await configFiles(p)).files);
  assert.deepEqual(configWatchPaths(p), [p.systemDropinDir, p.mainFile, p.adminDropinDir]);
});

test('nothing there: an empty configuration without entries', async (t) => {
  const root = await tmpdir(t, 'host-agent-config-');
  const loaded = await loadConfig({
    mainFile: join(root, 'missing.yaml'), systemDropinDir: join(root, 'no-such-dir'), adminDropinDir: join(root, 'nor-this'),
  });
  assert.deepEqual(loaded.entries, []);
  assert.deepEqual(loaded.files, []);
  assert.deepEqual(loaded.config?.units, []);
});

test('an error in any file blocks the whole, and names the file', async (t) => {
  const p = await layout(t);
  await writeFile(p.mainFile, cc('coreos:\n  units:\n    - name: web.service\n      command: start\n'));
  await writeFile(join(p.adminDropinDir, '50-broken.yaml'), cc('coreos:\n  units:\n    - name: web.service\n      command: lol\n'));
  const loaded = await loadConfig(p);
  assert.equal(loaded.config, undefined);
  assert.deepEqual(show(loaded.entries), [`${join(p.adminDropinDir, '50-broken.yaml')}: line 5: error: invalid value lol`]);
});

test('bad files: binary, invalid UTF-8, too large, a directory, a BOM before the header (as coreos-cloudinit)', async (t) => {
  const p = await layout(t);
  const binary = join(p.adminDropinDir, '10-binary.yaml');
  const latin1 = join(p.adminDropinDir, '20-latin1.yaml');
  const large = join(p.adminDropinDir, '30-large.yaml');
  const dir = join(p.adminDropinDir, '40-dir.yaml');
  await writeFile(binary, Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2, 3, 0xff]));
  await writeFile(latin1, Buffer.concat([Buffer.from('#cloud-config\nhostname: caf'), Buffer.from([0xe9]), Buffer.from('\n')]));
  const largeText = cc(`hostname: big\n# ${'x'.repeat(2000)}\n`);
  await writeFile(large, largeText);
  await mkdir(dir);
  await writeFile(p.mainFile, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(cc('hostname: bom\n'))]));
  const loaded = await loadConfig({ ...p, maxFileBytes: 1000 });
  assert.equal(loaded.config, undefined);
  assert.equal(loaded.sources.find((s) => s.file === p.mainFile)?.kind, 'invalid');
  // In merge order, whether found reading or validating.
  assert.deepEqual(show(loaded.entries), [
    `${p.mainFile}: line 1: error: must be "#cloud-config" or begin with "#!"`,
    `${binary}: line 1: error: must be "#cloud-config" or begin with "#!"`,
    `${latin1}: line 2: error: not a text file: it contains bytes that are not UTF-8; a cloud-config is UTF-8 YAML text`,
    `${large}: line 1: error: the file is too large: ${Buffer.byteLength(largeText)} bytes where at most 1000 are accepted`,
    `${dir}: line 1: error: not a regular file; a configuration file must be a YAML file`,
  ]);
});

test('an unreadable file is an error, not a missing one', { skip: process.getuid?.() === 0 && 'root reads every file' }, async (t) => {
  const p = await layout(t);
  await writeFile(p.mainFile, cc('hostname: secret\n'));
  await chmod(p.mainFile, 0o000);
  const loaded = await loadConfig(p);
  assert.equal(loaded.config, undefined);
  assert.match(show(loaded.entries)[0]!, /line 1: error: cannot read the file \(EACCES\)/);
});

test('a file that cannot be read (a symlink loop) is an error', async (t) => {
  const p = await layout(t);
  const loop = join(p.adminDropinDir, '10-loop.yaml');
  await symlink(loop, loop);
  // The other files are still checked one by one, but not merged: no "has no image" here,
  // the image could be in the file that was not read.
  await writeFile(p.mainFile, cc('bogus: 1\nhost-agent:\n  containers:\n    - {name: web, memory: 64M}\n'));
  const loaded = await loadConfig(p);
  assert.equal(loaded.config, undefined);
  assert.deepEqual(show(loaded.entries), [
    `${p.mainFile}: line 2: warning: unrecognized key "bogus"`,
    `${loop}: line 1: error: cannot read the file (ELOOP); check that it exists and that the agent may read it`]);
  assert.deepEqual(loaded.sources, [{ file: p.mainFile, kind: 'cloud-config' }]);
});

test('a drop-in "directory" that is a file is an error', async (t) => {
  const root = await tmpdir(t, 'host-agent-config-');
  const notDir = join(root, 'config.d');
  await writeFile(notDir, 'x');
  const loaded = await loadConfig({ mainFile: join(root, 'main.yaml'), systemDropinDir: notDir, adminDropinDir: join(root, 'none') });
  assert.equal(loaded.config, undefined);
  assert.deepEqual(show(loaded.entries), [
    `${notDir}: line 1: error: cannot list the drop-in directory (ENOTDIR); it must be a directory the agent may read`]);
});

test('decompression of write_files content is bounded', async (t) => {
  const p = await layout(t);
  const bomb = gzipSync(Buffer.alloc(8 * 1024 * 1024)).toString('base64');
  await writeFile(p.mainFile, cc(`write_files:\n  - path: /etc/zeros\n    encoding: gzip+base64\n    content: ${bomb}\n`));
  const refused = await loadConfig({ ...p, maxGunzipBytes: 1024 * 1024 });
  assert.deepEqual(show(refused.entries), [`${p.mainFile}: line 5: error: content cannot be decoded as "gzip+base64"`]);
  const accepted = await loadConfig(p);
  assert.equal(accepted.config?.writeFiles[0]?.content.length, 8 * 1024 * 1024);
});

test('the last good configuration survives a restart while the files are broken', async (t) => {
  const p = await layout(t);
  const state = join(p.root, 'var/lib/host-agent/last-good-config.json');
  assert.equal(await readLastGood(state), undefined);

  await writeFile(p.mainFile, cc('hostname: good\ncoreos:\n  units:\n    - {name: web.service, command: start}\n'));
  await writeFile(join(p.adminDropinDir, '50-x.yaml'), cc('coreos:\n  units:\n    - {name: web.service, enable: true}\n'));
  const good = await loadConfig(p);
  assert.ok(good.config);
  await saveLastGood(state, good.files, new Date('2026-01-02T03:04:05Z'));
  assert.equal((await stat(state)).mode & 0o777, 0o600);

  // The admin breaks the main file; the agent restarts.
  await writeFile(p.mainFile, cc('hostname: [broken\n'));
  const broken = await loadConfig(p);
  assert.equal(broken.config, undefined);
  const saved = await readLastGood(state);
  assert.equal(saved?.savedAt, '2026-01-02T03:04:05.000Z');
  const restored = validateSources(saved!.sources, { gunzip: boundedGunzip() });
  assert.deepEqual(restored.config, good.config);

  // A newer good configuration replaces it, atomically: no temp files are left behind.
  await writeFile(p.mainFile, cc('hostname: better\n'));
  await saveLastGood(state, (await loadConfig(p)).files);
  const replaced = await readLastGood(state);
  assert.match(replaced!.sources.find((s) => s.file === p.mainFile)!.text, /better/);
  assert.deepEqual(await readdir(join(p.root, 'var/lib/host-agent')), ['last-good-config.json']);
});

test('a corrupt last good configuration is moved aside with a warning, and is none', async (t) => {
  const root = await tmpdir(t, 'host-agent-config-');
  const state = join(root, 'last-good-config.json');
  for (const text of ['{not json', '{"format":1,"savedAt":"x","sources":[{"file":3}]}', 'null', '{"format":2,"savedAt":"x","sources":[]}', 'passwd: $6$SECRET', '{"format":1,"sources":[{"text":"$6$SECRET"}] x']) {
    await writeFile(state, text);
    const warnings: string[] = [];
    assert.equal(await readLastGood(state, (m) => warnings.push(m)), undefined, text);
    assert.equal(warnings.length, 1, text);
    assert.ok(warnings[0]!.startsWith(`${state}: the last good configuration is damaged`), warnings[0]);
    assert.ok(!warnings[0]!.includes('SECRET'), `the warning does not quote the file: ${warnings[0]}`);
    const names = await readdir(root);
    assert.deepEqual(names.filter((n) => n === 'last-good-config.json'), [], 'moved away');
    const aside = names.find((n) => n.startsWith('last-good-config.json.corrupt-'));
    assert.ok(aside, names.join(' '));
    assert.equal(await readFile(join(root, aside), 'utf8'), text, 'the evidence is kept');
    await rm(join(root, aside));
  }
});
