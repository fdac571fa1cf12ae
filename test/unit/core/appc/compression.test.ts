import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isArchiveFormat, sniffFormat, SNIFF_BYTES } from '../../../../agent/core/appc/compression.js';

function bytes(...values: number[]): Uint8Array {
  return Uint8Array.from(values);
}

function ascii(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

/** A 512-byte tar header block for `name` with the ustar magic. */
function tarHeader(name: string): Uint8Array {
  const block = new Uint8Array(512);
  block.set(ascii(name), 0);
  block.set(ascii('ustar\u000000'), 257);
  return block;
}

test('compressed archives by their magic bytes', () => {
  assert.equal(sniffFormat(bytes(0x1f, 0x8b, 0x08, 0x00)), 'gzip');
  assert.equal(sniffFormat(ascii('BZh91AY&SY')), 'bzip2');
  assert.equal(sniffFormat(bytes(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0x00, 0x04)), 'xz');
  assert.equal(sniffFormat(bytes(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x01)), 'unknown');
  assert.equal(sniffFormat(bytes(0x1f)), 'unknown');
});

test('a plain tar by ustar at offset 257, with more than 262 bytes', () => {
  assert.equal(sniffFormat(tarHeader('manifest')), 'tar');
  assert.equal(sniffFormat(tarHeader('manifest').subarray(0, 262)), 'unknown');
  assert.equal(sniffFormat(tarHeader('manifest').subarray(0, 263)), 'tar');
  const long = new Uint8Array(SNIFF_BYTES * 4);
  long.set(tarHeader('rootfs/'));
  assert.equal(sniffFormat(long), 'tar');
});

test('text (a manifest) and other files', () => {
  assert.equal(sniffFormat(ascii('{\n  "acKind": "ImageManifest"\n}\n')), 'text');
  assert.equal(sniffFormat(new TextEncoder().encode('{"name": "é"}')), 'text');
  assert.equal(sniffFormat(new Uint8Array(0)), 'text');
  assert.equal(sniffFormat(bytes(0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01)), 'unknown');
  assert.equal(sniffFormat(bytes(0x50, 0x4b, 0x03, 0x04)), 'unknown');
});

test('which formats hold an archive', () => {
  assert.deepEqual(
    (['gzip', 'bzip2', 'xz', 'tar', 'text', 'unknown'] as const).filter(isArchiveFormat),
    ['gzip', 'bzip2', 'xz', 'tar'],
  );
});
