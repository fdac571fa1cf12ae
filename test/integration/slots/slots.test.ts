import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { open, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { tmpdir } from '../../lib/tmpdir.js';
import { cgptAttributes, cloneDisk, expectedBits, gptProblems, makeDisk, sgdiskBits, slotHash, type TestDisk } from '../../lib/disk.js';
import { promoteChanges, readSlots, updateSlotAttributes } from '../../../agent/host/slots/slots.js';
import { openSlotWriter } from '../../../agent/host/slots/writer.js';
import { readBootedSlot } from '../../../agent/host/slots/booted.js';

const run = promisify(execFile);

// sgdisk sleeps a second per write: make one disk for the suite and copy it per test.
let template: TestDisk;
const suite = { cleanups: [] as Array<() => unknown>, after(fn: () => unknown) { this.cleanups.push(fn); } };
before(async () => {
  template = await makeDisk(await tmpdir(suite), 8, 'template.img');
});
after(() => Promise.all(suite.cleanups.map((fn) => fn())));
const freshDisk = async (t: { after(fn: () => unknown): void }): Promise<TestDisk> => cloneDisk(template, await tmpdir(t));

test('finds USR-A/USR-B by label and type, with offsets and PARTUUIDs as cgpt reports', async (t) => {
  const disk = await freshDisk(t);
  const slots = await readSlots(disk.path);
  assert.equal(slots.A.index, 3);
  assert.equal(slots.B.index, 4);
  assert.equal(slots.A.partUuid, disk.partUuid.A);
  assert.equal(slots.B.partUuid, disk.partUuid.B);
  assert.equal(slots.A.offset, disk.offset.A);
  assert.equal(slots.B.offset, disk.offset.B);
  assert.equal(slots.B.size, disk.slotBytes);
  assert.deepEqual(slots.A.attributes, { priority: 1, tries: 0, successful: true });
  assert.deepEqual(slots.B.attributes, { priority: 0, tries: 0, successful: false });
});

test('attribute writes are read back by cgpt and sgdisk, keep other bits and both headers valid', async (t) => {
  const disk = await freshDisk(t);
  await run('cgpt', ['add', '-i', '4', '-A', '0x1000', disk.path]);
  await run('cgpt', ['add', '-i', '4', '-R', '1', disk.path]);
  const after = await updateSlotAttributes(disk.path, { B: { priority: 2, tries: 1, successful: false } }, 'A');
  assert.deepEqual(after.B.attributes, { priority: 2, tries: 1, successful: false });
  assert.deepEqual(await cgptAttributes(disk.path, 'B'), { priority: 2, tries: 1, successful: false });
  assert.deepEqual(await sgdiskBits(disk.path, 'B'), expectedBits({ priority: 2, tries: 1, successful: false }, [0, 60]));
  assert.deepEqual(await cgptAttributes(disk.path, 'A'), { priority: 1, tries: 0, successful: true });
  assert.equal(await gptProblems(disk.path), '');

  await updateSlotAttributes(disk.path, { A: { priority: 15, tries: 15, successful: true }, B: { priority: 0, tries: 0 } }, undefined);
  assert.deepEqual(await cgptAttributes(disk.path, 'A'), { priority: 15, tries: 15, successful: true });
  assert.deepEqual(await sgdiskBits(disk.path, 'B'), [0, 60]);
  assert.equal(await gptProblems(disk.path), '');
});

test('promotion outranks the other slot, lowering it from 15', async (t) => {
  const disk = await freshDisk(t);
  let slots = await updateSlotAttributes(disk.path, promoteChanges(await readSlots(disk.path), 'B'), 'A');
  assert.deepEqual(slots.B.attributes, { priority: 2, tries: 1, successful: false });
  await updateSlotAttributes(disk.path, { A: { priority: 15 } }, 'A');
  slots = await updateSlotAttributes(disk.path, promoteChanges(await readSlots(disk.path), 'B'), 'A');
  assert.deepEqual(await cgptAttributes(disk.path, 'B'), { priority: 15, tries: 1, successful: false });
  assert.deepEqual(await cgptAttributes(disk.path, 'A'), { priority: 14, tries: 0, successful: true });
  assert.equal(slots.A.attributes.priority, 14);
});

test('the booted slot is never made unbootable nor written', async (t) => {
  const disk = await freshDisk(t);
  const slots = await readSlots(disk.path);
  await assert.rejects(updateSlotAttributes(disk.path, { A: { priority: 0 } }, 'A'), { code: 'slots.booted-slot' });
  await assert.rejects(openSlotWriter(disk.path, slots.A, 'A'), { code: 'slots.booted-slot' });
  assert.deepEqual(await cgptAttributes(disk.path, 'A'), { priority: 1, tries: 0, successful: true });
  // Marking the booted slot good is allowed.
  await updateSlotAttributes(disk.path, { A: { successful: true, tries: 0 } }, 'A');
});

test('a damaged primary header is read from the backup and repaired by the next write', async (t) => {
  const disk = await freshDisk(t);
  const fh = await open(disk.path, 'r+');
  await fh.write(Buffer.from('garbage!'), 0, 8, 512 + 24);
  await fh.close();
  assert.match(await gptProblems(disk.path), /Primary GPT header is invalid/);
  const slots = await readSlots(disk.path);
  assert.equal(slots.B.partUuid, disk.partUuid.B);
  await updateSlotAttributes(disk.path, { B: { priority: 3 } }, 'A');
  assert.equal(await gptProblems(disk.path), '');
  assert.equal((await cgptAttributes(disk.path, 'B')).priority, 3);
});

test('the writer addresses the partition by offset and stops at its end', async (t) => {
  const disk = await freshDisk(t);
  const slots = await readSlots(disk.path);
  const w = await openSlotWriter(disk.path, slots.B, 'A');
  t.after(() => w.close().catch(() => undefined));
  const data = Buffer.alloc(70000, 0xab);
  await w.write(data, 0);
  await w.sync();
  assert.equal(await slotHash(disk, 'B', data.length), createHash('sha512').update(data).digest('hex'));
  const back = Buffer.alloc(10);
  assert.equal(await w.read(back, 69990, 10), 10);
  assert.deepEqual(back, Buffer.alloc(10, 0xab));
  await assert.rejects(w.write(Buffer.alloc(2), slots.B.size - 1), { code: 'slots.out-of-bounds' });
});

test('the booted slot comes from the kernel command line, checked against the GPT', async (t) => {
  const dir = await tmpdir(t);
  const disk = await cloneDisk(template, dir);
  const cmdlinePath = join(dir, 'cmdline');
  await writeFile(cmdlinePath, `root=LABEL=ROOT mount.usr=PARTUUID=${disk.partUuid.B.toUpperCase()} quiet\n`);
  await assert.rejects(readBootedSlot({ disk: disk.path, cmdlinePath }), { code: 'slots.booted-disagrees' }); // B: priority 0
  await run('cgpt', ['add', '-i', '4', '-P', '2', '-T', '0', '-S', '1', disk.path]);
  assert.equal((await readBootedSlot({ disk: disk.path, cmdlinePath })).booted, 'B');
  await writeFile(cmdlinePath, 'root=LABEL=ROOT quiet\n');
  await assert.rejects(readBootedSlot({ disk: disk.path, cmdlinePath }), { code: 'slots.booted-unknown' });
});

test('a slot is found only by its label and the USR type GUID', async (t) => {
  const disk = await freshDisk(t);
  await run('cgpt', ['add', '-i', '4', '-t', '0fc63daf-8483-4772-8e79-3d69d8477de4', disk.path]);
  await assert.rejects(readSlots(disk.path), { code: 'slots.missing' });
  await run('cgpt', ['add', '-i', '4', '-t', '5dfbf5f4-2848-4bac-aa5e-0d9a20b745a6', '-l', 'USR-A', disk.path]);
  await assert.rejects(readSlots(disk.path), { code: 'slots.ambiguous' });
  await run('cgpt', ['add', '-i', '4', '-l', 'USR-B', disk.path]);
  assert.equal((await readSlots(disk.path)).B.index, 4);
});

test('a disk without a GPT is refused', async (t) => {
  const dir = await tmpdir(t);
  const path = join(dir, 'blank.img');
  await writeFile(path, Buffer.alloc(1024 * 1024));
  await assert.rejects(readSlots(path), { code: 'slots.no-gpt' });
});

test('a write interrupted between the two copies leaves the primary in force, repaired next time', async (t) => {
  const disk = await freshDisk(t);
  const { size } = await stat(disk.path);
  const tail = 33 * 512; // backup entry array + backup header
  const fh = await open(disk.path, 'r+');
  t.after(() => fh.close().catch(() => undefined));
  const oldBackup = Buffer.alloc(tail);
  await fh.read(oldBackup, 0, tail, size - tail);
  await updateSlotAttributes(disk.path, { B: { priority: 2, tries: 1 } }, 'A');
  await fh.write(oldBackup, 0, tail, size - tail); // as if killed before the backup write
  await fh.sync();
  assert.match(await gptProblems(disk.path), /differ/);
  assert.deepEqual((await readSlots(disk.path)).B.attributes, { priority: 2, tries: 1, successful: false });
  assert.deepEqual(await cgptAttributes(disk.path, 'B'), { priority: 2, tries: 1, successful: false });
  await updateSlotAttributes(disk.path, { B: { tries: 2 } }, 'A');
  assert.equal(await gptProblems(disk.path), '');
});
