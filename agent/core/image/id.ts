/**
 * Image and layer IDs of the store, whatever the format: appc images are
 * `sha512-<128 hex>` (the SHA-512 of the uncompressed archive), OCI images and layers
 * `sha256-<64 hex>` (a manifest digest, a diff ID). Pure: no I/O.
 */

/** A complete store ID: `sha512-` and 128 lower-case hex digits, or `sha256-` and 64. */
export const IMAGE_ID = /^(sha512-[0-9a-f]{128}|sha256-[0-9a-f]{64})$/;

/** An ID or an ID prefix as a person types it: the algorithm, a dash, hex digits. */
const ID_PREFIX = /^sha(256|512)-[0-9a-f]*$/;

/** How many hex digits the short form of an ID keeps (`agentctl image list`). */
const SHORT_HEX = 12;

export function isImageId(value: string): boolean {
  return IMAGE_ID.test(value);
}

/** True when `ref` is written as an ID (full or a prefix), not as a name. */
export function looksLikeImageId(ref: string): boolean {
  return ID_PREFIX.test(ref);
}

/** `sha512-0123456789ab`: the algorithm and the first 12 hex digits. */
export function shortImageId(id: string): string {
  const dash = id.indexOf('-');
  return id.slice(0, dash + 1 + SHORT_HEX);
}
