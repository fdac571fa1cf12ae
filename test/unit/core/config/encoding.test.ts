/** base64 as Go's standard decoder reads it, UTF-8, and content decoding, against node's own. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { contentBytes, decodeBase64, decodeContent, utf8Encode } from '../../../../agent/core/config/encoding.js';
import { gunzip } from './helpers.js';

const ascii = (s: string) => Uint8Array.from(Buffer.from(s, 'latin1'));

test('decodeBase64 agrees with node on valid input of every length', () => {
  for (let n = 0; n < 64; n++) {
    const data = randomBytes(n);
    assert.deepEqual(decodeBase64(ascii(data.toString('base64'))), Uint8Array.from(data), `length ${n}`);
  }
});

test('decodeBase64 skips line breaks and refuses what Go refuses', () => {
  assert.deepEqual(decodeBase64(ascii('aGVs\r\nbG8K\n')), ascii('hello\n'));
  for (const bad of ['aGVsbG8', 'aGVsbG8K=', 'aGV sbG8K', 'aG=sbG8K', 'a===', 'aGVs*G8K', 'YQ==YQ==', 'aGVsbG8K\t']) {
    assert.equal(decodeBase64(ascii(bad)), undefined, bad);
  }
  assert.deepEqual(decodeBase64(ascii('')), new Uint8Array(0));
});

test('utf8Encode agrees with node, lone surrogates become U+FFFD', () => {
  for (const s of ['', 'plain', 'héllo wörld', '日本語', '😀 emoji', '\u0000\u007f\u0080\u07ff\u0800\uffff']) {
    assert.deepEqual(utf8Encode(s), Uint8Array.from(Buffer.from(s, 'utf8')), s);
  }
  assert.deepEqual(utf8Encode('a\ud800b'), Uint8Array.from(Buffer.from('a\ufffdb', 'utf8')));
});

test('decodeContent: every encoding name and alias', () => {
  const text = ascii('hello\n');
  const gz = Uint8Array.from(gzipSync('hello\n'));
  const gzB64 = ascii(Buffer.from(gz).toString('base64'));
  const decode = (content: Uint8Array, encoding: string) => {
    const decoded = decodeContent(content, encoding, gunzip);
    return decoded && Uint8Array.from(decoded);
  };
  assert.deepEqual(decode(text, ''), text);
  for (const e of ['base64', 'b64']) assert.deepEqual(decode(ascii('aGVsbG8K'), e), text, e);
  for (const e of ['gzip', 'gz']) assert.deepEqual(decode(gz, e), text, e);
  for (const e of ['gzip+base64', 'gz+base64', 'gzip+b64', 'gz+b64']) assert.deepEqual(decode(gzB64, e), text, e);
  assert.equal(decodeContent(text, 'gzip', gunzip), undefined);
  assert.equal(decodeContent(text, 'rot13', gunzip), undefined);
  assert.equal(decodeContent(text, 'BASE64', gunzip), undefined);
  assert.equal(decodeContent(gz, 'gzip', () => { throw new RangeError('too large'); }), undefined);
});

test('contentBytes: text as UTF-8, !!binary as its bytes, missing as empty, collections as nothing', () => {
  const base = { line: 1, file: undefined, size: 1, height: 1 };
  assert.deepEqual(contentBytes(undefined), new Uint8Array(0));
  assert.deepEqual(contentBytes({ ...base, kind: 'scalar', type: 'string', text: 'é', value: 'é' }), Uint8Array.of(0xc3, 0xa9));
  assert.deepEqual(contentBytes({ ...base, kind: 'scalar', type: 'binary', text: 'AAE=', value: 'AAE=', bytes: Uint8Array.of(0, 1) }), Uint8Array.of(0, 1));
  assert.equal(contentBytes({ ...base, kind: 'seq', items: [] }), undefined);
});
