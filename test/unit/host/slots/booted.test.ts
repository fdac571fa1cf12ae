import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bootedSlotFromCmdline, usrDeviceOf } from '../../../../agent/host/slots/booted.js';
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
