/**
 * dm-verity of the USR slot, with the real veritysetup (images formatted by it, fixed salt):
 * a good image, appended or in a verity partition, on a disk image file and on a loop
 * device, is verified, gets its boot entry and becomes the next boot; a flipped data byte, a
 * flipped hash-tree byte, a wrong root hash and a truncated image leave the slot unbootable
 * (cgpt and sgdisk read the bits). The boot simulator checks verity.usrhash= at boot.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { access, open, readFile, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { bootSim } from '../../lib/boot-sim.js';
import { cgptAttributes, expectedBits, gptProblems, makeDisk, sgdiskBits, type TestDisk, type TestSlot } from '../../lib/disk.js';
import { tmpdir } from '../../lib/tmpdir.js';
import { makeVerityImage, type VerityImage } from '../../lib/verity.js';
import type { UpdateState } from '../../../agent/core/update/machine.js';
import { parseVerity } from '../../../agent/core/update/verity.js';
import { readSlots } from '../../../agent/host/slots/slots.js';
import { verifySlotVerity } from '../../../agent/host/update/verity.js';
import { imageBytes } from './helpers/release.js';
import { makeKeys, makeWorld, type Keys, type World } from './helpers/world.js';
import { makeService, trustReleaseKey } from '../update-service/helpers.js';

const run = promisify(execFile);
const exists = (p: string): Promise<boolean> => access(p).then(() => true, () => false);
const UNBOOTABLE = { priority: 0, tries: 0, successful: false };
const GOOD_A = { priority: 1, tries: 0, successful: true };
/** 3 MiB of data: 768 blocks, a 7-block tree. */
const DATA_BYTES = 3 * 1024 * 1024;

let template: TestDisk;
let keys: Keys;
const cleanups: Array<() => unknown> = [];
const owner = { after: (fn: () => unknown) => cleanups.push(fn) };
before(async () => {
  [template, keys] = await Promise.all([(async () => makeDisk(await tmpdir(owner), 8, 'template.img', 1))(), makeKeys(owner)]);
});
after(async () => {
  for (const fn of cleanups.reverse()) await fn();
});

const entriesDir = (w: World): string => join(w.paths.stateDir, 'boot-entries');

async function verityImage(w: World, layout: 'appended' | 'partition', superblock = true): Promise<VerityImage> {
  return makeVerityImage(w.dir, imageBytes('2.0.0', DATA_BYTES), layout, superblock);
}

async function publishVerity(w: World, image: VerityImage, verity: Record<string, unknown> = { ...image.verity }): Promise<void> {
  await w.publish('2.0.0', { image: image.payload, compression: 'none', verity });
}

function flip(buf: Buffer, at: number): Buffer {
  const copy = Buffer.from(buf);
  copy[at]! ^= 0x01;
  return copy;
}

/** The bytes `length` at `offset` of `disk`. */
async function diskBytes(disk: string, offset: number, length: number): Promise<Buffer> {
  const fh = await open(disk, 'r');
  try {
    const buf = Buffer.alloc(length);
    await fh.read(buf, 0, length, offset);
    return buf;
  } finally {
    await fh.close();
  }
}

async function assertUnbootable(w: World, slot: TestSlot = 'B'): Promise<void> {
  assert.deepEqual(await cgptAttributes(w.disk.path, slot), UNBOOTABLE, `cgpt: USR-${slot} 0/0/0`);
  assert.deepEqual(await sgdiskBits(w.disk.path, slot), [], `sgdisk -A: no boot bits on USR-${slot}`);
  assert.deepEqual(await cgptAttributes(w.disk.path, 'A'), GOOD_A);
  assert.equal(await gptProblems(w.disk.path), '');
  assert.equal(await exists(join(w.paths.stateDir, 'staging.json')), false, 'the journal is cleared: the next attempt starts over');
  assert.equal(await exists(join(entriesDir(w), `USR-${slot}.conf`)), false, 'no boot entry for the refused slot');
  assert.equal((await bootSim(w.disk.path, { entriesDir: entriesDir(w) })).slot, 'A');
}

/** The update fails with `code`; the failure is reported as other verification failures are. */
async function refused(w: World, code: string): Promise<UpdateState[]> {
  const states: UpdateState[] = [];
  const engine = w.engine({ onChange: (s) => states.push(s) });
  const error = await engine.update().then(() => undefined, (e: unknown) => e);
  assert.equal((error as { code?: string } | undefined)?.code, code, String(error));
  const reported = states.find((s) => s.kind === 'REPORTING_ERROR_EVENT') as { error: { code: string; message: string } } | undefined;
  assert.equal(reported?.error.code, code);
  assert.equal(engine.state.kind, 'IDLE');
  await assertUnbootable(w);
  return states;
}

for (const [layout, superblock] of [['appended', true], ['appended', false], ['partition', true], ['partition', false]] as const) {
  test(`a good image (tree ${layout}, superblock ${superblock}) verifies, gets verity.usrhash= in its boot entry and boots`, async (t) => {
    const w = await makeWorld(t, template, keys);
    const image = await verityImage(w, layout, superblock);
    await publishVerity(w, image);
    const states: UpdateState[] = [];
    // Odd-sized writes and read-backs, so some cross from USR-B into USR-B-verity.
    await w.engine({ chunkBytes: 100_003, onChange: (s) => states.push(s) }).update();
    assert.deepEqual([...new Set(states.map((s) => s.kind))].slice(-4), ['DOWNLOADING', 'VERIFYING', 'FINALIZING', 'UPDATED_NEED_REBOOT']);
    assert.deepEqual(await cgptAttributes(w.disk.path, 'B'), { priority: 2, tries: 1, successful: false });
    assert.deepEqual(await sgdiskBits(w.disk.path, 'B'), expectedBits({ priority: 2, tries: 1, successful: false }));
    const slots = await readSlots(w.disk.path);
    if (layout === 'partition') {
      assert.deepEqual(await diskBytes(w.disk.path, w.disk.offset.B, DATA_BYTES), image.payload.subarray(0, DATA_BYTES), 'the data in USR-B');
      const tree = image.payload.subarray(DATA_BYTES);
      assert.deepEqual(await diskBytes(w.disk.path, slots.B.verity!.offset, tree.length), tree, 'the hash image in USR-B-verity');
      assert.deepEqual(await diskBytes(w.disk.path, slots.A.verity!.offset, tree.length), Buffer.alloc(tree.length), 'USR-A-verity untouched');
    } else {
      assert.deepEqual(await diskBytes(w.disk.path, w.disk.offset.B, image.payload.length), image.payload);
    }
    const entry = await readFile(join(entriesDir(w), 'USR-B.conf'), 'utf8');
    assert.match(entry, new RegExp(`^options mount\\.usr=PARTUUID=${w.disk.partUuid.B} verity\\.usrhash=${image.verity.rootHash} `, 'm'));
    const hashUuid = layout === 'partition' ? slots.B.verity!.partUuid : w.disk.partUuid.B;
    assert.match(entry, new RegExp(`systemd\\.verity_usr_hash=PARTUUID=${hashUuid} `));

    const boot = await bootSim(w.disk.path, { cmdlinePath: w.paths.cmdlinePath, entriesDir: entriesDir(w) });
    assert.equal(boot.slot, 'B');
    assert.match(boot.cmdline, new RegExp(`verity\\.usrhash=${image.verity.rootHash}`));
  });
}

test('an image padded after its tree verifies; the padding and the superblock are read back by sha512', async (t) => {
  const w = await makeWorld(t, template, keys);
  const image = await verityImage(w, 'appended');
  const padded = Buffer.concat([image.payload, Buffer.alloc(65536, 0x5a)]);
  await w.publish('2.0.0', { image: padded, compression: 'none', verity: { ...image.verity } });
  await w.engine({ chunkBytes: 100_003 }).update();
  assert.deepEqual(await diskBytes(w.disk.path, w.disk.offset.B, padded.length), padded);
  assert.deepEqual(await cgptAttributes(w.disk.path, 'B'), { priority: 2, tries: 1, successful: false });
});

test('a flipped data byte, a flipped hash-tree byte, a wrong root hash: update.verity-mismatch, the slot stays unbootable', async (t) => {
  for (const layout of ['appended', 'partition'] as const) {
    const cases: Array<[string, (i: VerityImage) => { payload: Buffer; verity: Record<string, unknown> }]> = [
      ['data byte', (i) => ({ payload: flip(i.payload, 1_000_000), verity: { ...i.verity } })],
      ['hash-tree byte', (i) => ({ payload: flip(i.payload, i.hashAreaAt + 4096 + 100), verity: { ...i.verity } })],
      ['root hash', (i) => ({ payload: i.payload, verity: { ...i.verity, rootHash: i.verity.rootHash.replace(/.$/, (c) => (c === '0' ? '1' : '0')) } })],
    ];
    for (const [what, damage] of cases) {
      const w = await makeWorld(t, template, keys);
      const { payload, verity } = damage(await verityImage(w, layout));
      // The publisher signed the damaged image: its sha512 matches, only verity can tell.
      await w.publish('2.0.0', { image: payload, compression: 'none', verity });
      const states = await refused(w, 'update.verity-mismatch');
      const reported = states.find((s) => s.kind === 'REPORTING_ERROR_EVENT') as unknown as { error: { message: string } };
      assert.match(reported.error.message, /USR-B does not verify against the signed dm-verity root hash/, `${layout}: ${what}`);
      assert.equal(states.some((s) => s.kind === 'FINALIZING'), false, `${layout}: ${what}: never promoted`);
    }
  }
});

test('agentd\'s update service shows update.verity-mismatch as its last error; the slot stays unbootable', async (t) => {
  const w = await makeWorld(t, template, keys);
  const image = await verityImage(w, 'appended');
  await w.publish('2.0.0', { image: flip(image.payload, 12345), compression: 'none', verity: { ...image.verity } });
  await trustReleaseKey(w);
  const { service, log } = makeService(t, w, '1.0.0');
  await assert.rejects(service.apply(), { code: 'update.verity-mismatch' });
  const status = service.status();
  assert.equal(status.state, 'IDLE');
  assert.equal(status.lastError?.code, 'update.verity-mismatch');
  assert.match(status.lastError?.message ?? '', /USR-B does not verify against the signed dm-verity root hash [0-9a-f]{64}/);
  assert.ok(log.some((l) => /OS update apply failed: .*dm-verity/.test(l)), log.join('\n'));
  await assertUnbootable(w);
});

test('a truncated image: refused before any write when the release says so; veritysetup refuses a cut-off tree on the disk', async (t) => {
  const w = await makeWorld(t, template, keys);
  const image = await verityImage(w, 'appended');
  await w.publish('2.0.0', { image: image.payload.subarray(0, image.hashAreaAt + 8192), compression: 'none', verity: { ...image.verity } });
  const states = await refused(w, 'update.bad-manifest');
  assert.equal(states.some((s) => s.kind === 'DOWNLOADING'), false, 'nothing was written');

  // The whole image on the slot, then the disk image cut inside the hash tree.
  const dir = await tmpdir(t);
  const disk = await makeDisk(dir, 8, 'cut.img');
  const fh = await open(disk.path, 'r+');
  await fh.write(image.payload, 0, image.payload.length, disk.offset.B);
  await fh.close();
  const slot = (await readSlots(disk.path)).B;
  const verity = parseVerity(image.verity, image.payload.length);
  await verifySlotVerity(disk.path, slot, verity);
  // Without veritysetup: its own error, and the loop device is detached as on every path.
  await assert.rejects(verifySlotVerity(disk.path, slot, verity, { veritysetupPath: join(dir, 'no-veritysetup') }), { code: 'update.verity-unavailable' });
  await truncate(disk.path, disk.offset.B + image.hashAreaAt + 4096 + 8192);
  await assert.rejects(verifySlotVerity(disk.path, slot, verity), { code: 'update.verity-mismatch' });
  assert.equal((await run('losetup', ['--associated', disk.path])).stdout, '', 'no loop device left on the disk');
});

test('the disk as a loop device (a block device): a good image verifies and boots, a flipped byte does not', async (t) => {
  for (const bad of [false, true]) {
    const w = await makeWorld(t, template, keys);
    const { stdout } = await run('losetup', ['--find', '--show', w.disk.path]);
    const loop = stdout.trim();
    t.after(() => run('losetup', ['--detach', loop]));
    const image = await verityImage(w, 'appended');
    await w.publish('2.0.0', { image: bad ? flip(image.payload, 4096 * 7 + 3) : image.payload, compression: 'none', verity: { ...image.verity } });
    const engine = w.engine({ disk: loop });
    if (bad) {
      await assert.rejects(engine.update(), { code: 'update.verity-mismatch' });
      await assertUnbootable(w);
    } else {
      await engine.update();
      assert.deepEqual(await cgptAttributes(w.disk.path, 'B'), { priority: 2, tries: 1, successful: false });
      assert.equal((await bootSim(w.disk.path, { entriesDir: entriesDir(w) })).slot, 'B');
    }
  }
});

test('the e2e bootloader checks verity.usrhash= against the booted slot: a slot damaged after staging fails to boot, the next boot falls back', async (t) => {
  const w = await makeWorld(t, template, keys);
  const image = await verityImage(w, 'partition');
  await publishVerity(w, image);
  await w.engine().update();
  const bootloader = (): Promise<{ code: number; stdout: string; stderr: string }> =>
    run(process.execPath, ['--import', 'tsx', 'test/e2e/lib/bootloader.ts', w.disk.path, w.paths.cmdlinePath, join(w.dir, 'boots'), entriesDir(w)])
      .then((r) => ({ code: 0, ...r }), (e: { code: number; stdout: string; stderr: string }) => e);

  // Damage one byte of the hash partition of B after it was staged (a bad disk, or tampering).
  const slots = await readSlots(w.disk.path);
  const fh = await open(w.disk.path, 'r+');
  const at = slots.B.verity!.offset + 4096 + 17;
  const byte = (await diskBytes(w.disk.path, at, 1))[0]!;
  await fh.write(Buffer.from([byte ^ 0x80]), 0, 1, at);
  await fh.close();
  const failed = await bootloader();
  assert.equal(failed.code, 1);
  assert.match(failed.stderr, /USR-B does not verify against verity\.usrhash=/);
  assert.deepEqual(await cgptAttributes(w.disk.path, 'B'), { priority: 2, tries: 0, successful: false }, 'the try is spent');
  const fallback = await bootloader();
  assert.equal(fallback.code, 0, fallback.stderr);
  assert.match(fallback.stdout, /booting USR-A \(mount\.usr=PARTUUID=/);

  // Restored, a fresh staging boots B with the hash checked.
  const w2 = await makeWorld(t, template, keys);
  await publishVerity(w2, await verityImage(w2, 'appended'));
  await w2.engine().update();
  const ok = await run(process.execPath, ['--import', 'tsx', 'test/e2e/lib/bootloader.ts', w2.disk.path, w2.paths.cmdlinePath, join(w2.dir, 'boots'), entriesDir(w2)]);
  assert.match(ok.stdout, /booting USR-B \(mount\.usr=PARTUUID=\S+ verity\.usrhash=[0-9a-f]{64}, verified\)/);
  assert.match(await readFile(w2.paths.cmdlinePath, 'utf8'), /verity\.usrhash=[0-9a-f]{64}/);
});
