/**
 * The ChromeOS/CoreOS boot attributes in a GPT entry's 64-bit attribute field:
 * bits 48-51 priority (0 = never boot), 52-55 tries left, 56 successful.
 * Every other bit is kept as found.
 */
export interface SlotAttributes {
  /** 0-15; 0 means the bootloader never picks the slot. */
  priority: number;
  /** 0-15 boot attempts left while not yet successful. */
  tries: number;
  /** Set by the agent after a healthy boot. */
  successful: boolean;
}

const PRIORITY_SHIFT = 48n;
const TRIES_SHIFT = 52n;
const SUCCESSFUL_SHIFT = 56n;
const NIBBLE = 0xfn;
const OUR_BITS = (NIBBLE << PRIORITY_SHIFT) | (NIBBLE << TRIES_SHIFT) | (1n << SUCCESSFUL_SHIFT);

export function decodeSlotAttributes(raw: bigint): SlotAttributes {
  return {
    priority: Number((raw >> PRIORITY_SHIFT) & NIBBLE),
    tries: Number((raw >> TRIES_SHIFT) & NIBBLE),
    successful: ((raw >> SUCCESSFUL_SHIFT) & 1n) === 1n,
  };
}

/** `raw` with the boot attributes replaced by `attrs`; other bits unchanged. */
export function encodeSlotAttributes(raw: bigint, attrs: SlotAttributes): bigint {
  for (const [name, value] of [['priority', attrs.priority], ['tries', attrs.tries]] as const) {
    if (!Number.isInteger(value) || value < 0 || value > 15) throw new RangeError(`${name} must be 0-15, not ${value}`);
  }
  return (
    (raw & ~OUR_BITS) |
    (BigInt(attrs.priority) << PRIORITY_SHIFT) |
    (BigInt(attrs.tries) << TRIES_SHIFT) |
    ((attrs.successful ? 1n : 0n) << SUCCESSFUL_SHIFT)
  );
}

/** What the bootloader may pick: priority above 0 and either successful or tries left. */
export function isBootable(attrs: SlotAttributes): boolean {
  return attrs.priority > 0 && (attrs.successful || attrs.tries > 0);
}
