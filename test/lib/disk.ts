/**
 * GPT disk images for tests, made and read by the reference tools (sgdisk, cgpt), never by
 * our own GPT code, so our results are checked independently. Layout (CoreOS-like):
 * 1 EFI-SYSTEM (1 MiB), 3 USR-A, 4 USR-B (typed 5dfbf5f4-…), USR-A priority 1 successful 1;
 * optionally 5 USR-A-verity and 6 USR-B-verity (systemd's x86-64 usr-verity type), for
 * dm-verity hash trees kept in a partition.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, open, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const USR_TYPE = '5dfbf5f4-2848-4bac-aa5e-0d9a20b745a6';
export const SLOT_INDEX = { A: 3, B: 4 } as const;
export const VERITY_INDEX = { A: 5, B: 6 } as const;
/** systemd's Discoverable Partitions type of a usr-verity partition on x86-64. */
export const USR_VERITY_TYPE = '77ff5f63-e7b6-4633-acf4-1565b864c0e6';
export type TestSlot = keyof typeof SLOT_INDEX;

export interface TestDisk {
  path: string;
  slotBytes: number;
  /** PARTUUID of each slot, lower case. */
  partUuid: Record<TestSlot, string>;
  /** Byte offset of each slot on the disk, as cgpt reports it. */
  offset: Record<TestSlot, number>;
}

export interface BootAttributes {
  priority: number;
  tries: number;
  successful: boolean;
}

async function cgptShow(disk: string, index: number, flag: string): Promise<string> {
  const { stdout } = await run('cgpt', ['show', '-i', String(index), flag, disk]);
  return stdout.trim();
}

/**
 * Make a disk image in `dir` with two `slotMiB` slots; USR-A is the booted, good slot. With
 * `verityMiB`, each slot also gets a verity partition of that size.
 */
export async function makeDisk(dir: string, slotMiB = 8, name = 'disk.img', verityMiB = 0): Promise<TestDisk> {
  const path = join(dir, name);
  await writeFile(path, '');
  await truncate(path, (2 * slotMiB + 2 * verityMiB + 4) * 1024 * 1024);
  await run('sgdisk', [
    '-o',
    '-n', '1:2048:+1M', '-t', '1:ef00', '-c', '1:EFI-SYSTEM',
    '-n', `3:0:+${slotMiB}M`, '-t', `3:${USR_TYPE}`, '-c', '3:USR-A',
    '-n', `4:0:+${slotMiB}M`, '-t', `4:${USR_TYPE}`, '-c', '4:USR-B',
    ...(verityMiB > 0 ? (['A', 'B'] as const).flatMap((s) => {
      const i = VERITY_INDEX[s];
      return ['-n', `${i}:0:+${verityMiB}M`, '-t', `${i}:${USR_VERITY_TYPE}`, '-c', `${i}:USR-${s}-verity`];
    }) : []),
    path,
  ]);
  await run('cgpt', ['add', '-i', '3', '-P', '1', '-T', '0', '-S', '1', path]);
  const partUuid = { A: '', B: '' };
  const offset = { A: 0, B: 0 };
  for (const slot of ['A', 'B'] as const) {
    partUuid[slot] = (await cgptShow(path, SLOT_INDEX[slot], '-u')).toLowerCase();
    offset[slot] = Number(await cgptShow(path, SLOT_INDEX[slot], '-b')) * 512;
  }
  return { path, slotBytes: slotMiB * 1024 * 1024, partUuid, offset };
}

/** The boot attributes of `slot` as cgpt reads them. */
export async function cgptAttributes(disk: string, slot: TestSlot): Promise<BootAttributes> {
  const i = SLOT_INDEX[slot];
  return {
    priority: Number(await cgptShow(disk, i, '-P')),
    tries: Number(await cgptShow(disk, i, '-T')),
    successful: (await cgptShow(disk, i, '-S')) === '1',
  };
}

/** The attribute bits set on `slot`, as `sgdisk -A N:show` lists them. */
export async function sgdiskBits(disk: string, slot: TestSlot): Promise<number[]> {
  const i = SLOT_INDEX[slot];
  const { stdout } = await run('sgdisk', ['-A', `${i}:show`, disk]);
  return [...stdout.matchAll(new RegExp(`^${i}:(\\d+):1`, 'gm'))].map((m) => Number(m[1]));
}

/** Bits that `attrs` set, to compare with `sgdiskBits`. */
export function expectedBits(attrs: BootAttributes, otherBits: number[] = []): number[] {
  const bits = [...otherBits];
  for (let b = 0; b < 4; b++) {
    if ((attrs.priority >> b) & 1) bits.push(48 + b);
    if ((attrs.tries >> b) & 1) bits.push(52 + b);
  }
  if (attrs.successful) bits.push(56);
  return bits.sort((x, y) => x - y);
}

/**
 * Problems that `sgdisk -v` and `cgpt show` find in the table (either header or entry
 * array damaged, CRC mismatch); empty when both tools are content.
 */
export async function gptProblems(disk: string): Promise<string> {
  const sg = await run('sgdisk', ['-v', disk]);
  const cg = await run('cgpt', ['show', disk]);
  const lines = [
    ...`${sg.stdout}\n${sg.stderr}`.split('\n').filter((l) => /caution|warning|error|problem/i.test(l) && !/No problems found/.test(l)),
    ...`${cg.stdout}\n${cg.stderr}`.split('\n').filter((l) => /INVALID|WARNING|ERROR/.test(l)),
  ];
  if (!/No problems found/.test(sg.stdout)) lines.push(sg.stdout);
  return lines.join('\n');
}

/** A copy of `disk` named `name` in `dir` (sgdisk sleeps a second per write; copying does not). */
export async function cloneDisk(disk: TestDisk, dir: string, name = 'disk.img'): Promise<TestDisk> {
  const path = join(dir, name);
  await copyFile(disk.path, path);
  return { ...disk, path };
}

/** Write `data` at the start of `slot`, at the offset cgpt reports (test set-up). */
export async function writeSlotBytes(disk: TestDisk, slot: TestSlot, data: Uint8Array): Promise<void> {
  const fh = await open(disk.path, 'r+');
  try {
    await fh.write(data, 0, data.length, disk.offset[slot]);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** sha512 hex of the first `length` bytes of `slot`. */
export async function slotHash(disk: TestDisk, slot: TestSlot, length: number): Promise<string> {
  const fh = await open(disk.path, 'r');
  try {
    const buf = Buffer.alloc(length);
    await fh.read(buf, 0, length, disk.offset[slot]);
    return createHash('sha512').update(buf).digest('hex');
  } finally {
    await fh.close();
  }
}
