import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nextBootSlot } from '../../../../agent/host/reboot/slot-facts.js';
import type { SlotAttributes } from '../../../../agent/host/slots/attributes.js';
import type { Slot, SlotName, SlotPair } from '../../../../agent/host/slots/slots.js';

const slot = (name: SlotName, attributes: SlotAttributes): Slot => ({
  name, label: `USR-${name}`, index: name === 'A' ? 3 : 4, partUuid: '', offset: 0, size: 0, attributes, rawAttributes: 0n,
});
const pair = (a: SlotAttributes, b: SlotAttributes): SlotPair => ({ A: slot('A', a), B: slot('B', b) });
const good = (priority: number): SlotAttributes => ({ priority, tries: 0, successful: true });

test('the next boot is the bootloader choice: highest bootable priority, USR-A on a tie', () => {
  assert.equal(nextBootSlot(pair(good(1), { priority: 0, tries: 0, successful: false })), 'A');
  assert.equal(nextBootSlot(pair(good(1), { priority: 2, tries: 1, successful: false })), 'B', 'staged');
  assert.equal(nextBootSlot(pair(good(1), { priority: 2, tries: 0, successful: false })), 'A', 'tries spent: fall back');
  assert.equal(nextBootSlot(pair(good(2), good(2))), 'A');
  assert.equal(nextBootSlot(pair({ priority: 0, tries: 0, successful: false }, { priority: 3, tries: 0, successful: false })), undefined);
});
