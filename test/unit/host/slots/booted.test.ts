import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bootedSlotFromCmdline, bootedSlotProblem, usrDeviceOf } from '../../../../agent/host/slots/booted.js';
import type { SlotPair } from '../../../../agent/host/slots/slots.js';
import { decodeSlotAttributes, encodeSlotAttributes, isBootable } from '../../../../agent/host/slots/attributes.js';

const slot = (name: 'A' | 'B', partUuid: string) => ({
  name, label: `USR-${name}`, index: name === 'A' ? 3 : 4, partUuid, offset: 0, size: 1, attributes: { priority: 0, tries: 0, successful: false }, rawAttributes: 0n,
});
const slots: SlotPair = { A: slot('A', '7130c94a-213a-4e5a-8e26-6cce9662f132'), B: slot('B', 'e03dd35c-7c2d-4a47-b3fe-27f15780a57c') };

test('the booted slot from mount.usr= / usr= in its four spellings', () => {
  assert.equal(bootedSlotFromCmdline('root=LABEL=ROOT mount.usr=PARTUUID=7130C94A-213A-4E5A-8E26-6CCE9662F132 ro', slots), 'A');
  assert.equal(bootedSlotFromCmdline('usr=PARTLABEL=USR-B', slots), 'B');
  assert.equal(bootedSlotFromCmdline('mount.usr=/dev/disk/by-partlabel/USR-A', slots), 'A');
  assert.equal(bootedSlotFromCmdline('usr=/dev/disk/by-partuuid/e03dd35c-7c2d-4a47-b3fe-27f15780a57c\n', slots), 'B');
  assert.equal(bootedSlotFromCmdline('mount.usr="PARTLABEL=USR-B"', slots), 'B');
});

test('mount.usr= wins over usr=, the last occurrence wins', () => {
  assert.equal(bootedSlotFromCmdline('mount.usr=PARTLABEL=USR-B usr=PARTLABEL=USR-A', slots), 'B');
  assert.equal(bootedSlotFromCmdline('usr=PARTLABEL=USR-A usr=PARTLABEL=USR-B', slots), 'B');
  assert.equal(usrDeviceOf('BOOT_IMAGE=/vmlinuz'), undefined);
});

test('unknown devices name no slot', () => {
  assert.equal(bootedSlotFromCmdline('', slots), undefined);
  assert.equal(bootedSlotFromCmdline('mount.usr=/dev/sda3', slots), undefined);
  assert.equal(bootedSlotFromCmdline('usr=PARTUUID=00000000-0000-0000-0000-000000000000', slots), undefined);
  assert.equal(bootedSlotFromCmdline('usr=PARTLABEL=USR-C', slots), undefined);
  assert.equal(bootedSlotFromCmdline('myusr=PARTLABEL=USR-A', slots), undefined);
});

test('attribute bits 48-51, 52-55, 56; other bits kept', () => {
  const other = (1n << 60n) | 1n | (1n << 47n) | (1n << 57n);
  const raw = encodeSlotAttributes(other, { priority: 2, tries: 1, successful: true });
  assert.equal(raw, other | (2n << 48n) | (1n << 52n) | (1n << 56n));
  assert.deepEqual(decodeSlotAttributes(raw), { priority: 2, tries: 1, successful: true });
  assert.equal(encodeSlotAttributes(raw, { priority: 0, tries: 0, successful: false }), other);
  assert.deepEqual(decodeSlotAttributes(0xffffffffffffffffn), { priority: 15, tries: 15, successful: true });
  assert.throws(() => encodeSlotAttributes(0n, { priority: 16, tries: 0, successful: false }), RangeError);
  assert.equal(isBootable({ priority: 1, tries: 0, successful: true }), true);
  assert.equal(isBootable({ priority: 1, tries: 1, successful: false }), true);
  assert.equal(isBootable({ priority: 1, tries: 0, successful: false }), false);
  assert.equal(isBootable({ priority: 0, tries: 5, successful: true }), false);
});

test('the command line slot against the GPT: could the bootloader have booted it?', () => {
  const pair = (a: [number, number, boolean], b: [number, number, boolean]): SlotPair => ({
    A: { ...slots.A, attributes: { priority: a[0], tries: a[1], successful: a[2] } },
    B: { ...slots.B, attributes: { priority: b[0], tries: b[1], successful: b[2] } },
  });
  // [A P/T/S], [B P/T/S], slot named, agrees?
  const rows: Array<[[number, number, boolean], [number, number, boolean], 'A' | 'B', boolean]> = [
    [[1, 0, true], [0, 0, false], 'A', true], // fresh host
    [[1, 0, true], [0, 0, false], 'B', false], // the issue: B never booted and cannot boot
    [[1, 0, true], [2, 1, false], 'A', true], // staged, not rebooted yet
    [[1, 0, true], [2, 0, false], 'B', true], // first boot of B: its try is spent
    [[1, 0, true], [2, 0, true], 'B', true], // B marked good
    [[3, 1, false], [2, 0, true], 'B', true], // A staged while B runs
    [[14, 0, true], [15, 0, false], 'B', true], // promoted past 15
    [[2, 0, true], [1, 0, false], 'B', false], // B spent, A outranks it and is good
    [[2, 1, false], [1, 0, false], 'B', false], // A has a try and outranks B
    [[0, 0, false], [1, 0, false], 'B', true], // A unbootable: B was the only choice
    [[1, 0, true], [1, 0, false], 'B', true], // a tie: either could have booted
    [[1, 0, true], [0, 1, true], 'B', false], // priority 0 never boots, whatever else
  ];
  for (const [a, b, named, agrees] of rows) {
    const problem = bootedSlotProblem(named, pair(a, b));
    assert.equal(problem === undefined, agrees, `${named} with A ${a} B ${b}: ${problem}`);
  }
  assert.match(bootedSlotProblem('B', pair([1, 0, true], [0, 0, false]))!, /USR-B has priority 0, which the bootloader never boots; USR-A is the slot that booted successfully/);
  assert.match(bootedSlotProblem('B', pair([2, 0, true], [1, 0, false]))!, /never booted successfully and has no tries left .* USR-A \(priority 2, successful\) ranks above it/);
});
