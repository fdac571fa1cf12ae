import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findJsonSyntaxError } from '../../../../agent/core/appc/json-syntax.js';
import { parseManifestText, validateManifest } from '../../../../agent/core/appc/validate.js';

test('a manifest of either kind is validated by its acKind', () => {
  const image = validateManifest({ acKind: 'ImageManifest', acVersion: '0.8.11', name: 'example.com/x' });
  assert.equal(image.kind, 'ImageManifest');
  const pod = validateManifest({ acKind: 'PodManifest', acVersion: '0.8.11', apps: [] });
  assert.equal(pod.kind, 'PodManifest');
  assert.throws(() => validateManifest({ acVersion: '0.8.11' }), { code: 'appc.invalid-manifest', subject: 'acKind', message: 'ACKind must be set' });
  assert.throws(() => validateManifest({ acKind: 'Pod' }), { subject: 'acKind', message: 'bad ACKind: Pod' });
  assert.throws(() => validateManifest('x'), { subject: 'manifest', message: 'cannot unmarshal string into manifest of type object' });
});

test('manifest text: syntax errors by line and column, in the reference words', () => {
  const cases: [string, string][] = [
    ['{\n  "acKind": "ImageManifest",\n  "name": }', 'error at line 3, column 11: invalid character \'}\' looking for beginning of value'],
    ['{"a" 1}', "error at line 1, column 6: invalid character '1' after object key"],
    ['{"a": 1 "b": 2}', 'error at line 1, column 9: invalid character \'"\' after object key:value pair'],
    ['[1, 2', 'error at line 1, column 6: unexpected end of JSON input'],
    ['[1 2]', "error at line 1, column 4: invalid character '2' after array element"],
    ["{'a': 1}", "error at line 1, column 2: invalid character '\\'' looking for beginning of object key string"],
    ['{"a": tru }', "error at line 1, column 10: invalid character ' ' in literal true (expecting 'e')"],
    ['{"a": "x\\q"}', "error at line 1, column 10: invalid character 'q' in string escape code"],
    ['{"a": "\\u12g4"}', "error at line 1, column 12: invalid character 'g' in \\u hexadecimal character escape"],
    ['{"a": "\t"}', "error at line 1, column 8: invalid character '\\t' in string literal"],
    ['{"a": -}', "error at line 1, column 8: invalid character '}' in numeric literal"],
    ['{"a": 1.}', "error at line 1, column 9: invalid character '}' after decimal point in numeric literal"],
    ['{"a": 1e}', "error at line 1, column 9: invalid character '}' in exponent of numeric literal"],
    ['{} {}', "error at line 1, column 4: invalid character '{' after top-level value"],
    ['', 'error at line 1, column 1: unexpected end of JSON input'],
  ];
  for (const [text, message] of cases) {
    assert.throws(() => parseManifestText(text), { code: 'appc.invalid-manifest', subject: 'manifest', message }, text);
  }
  assert.deepEqual(parseManifestText(' {"a": [1, -2.5e+3, true, null, "\\u00e9\\n"]} '), { a: [1, -2500, true, null, 'é\n'] });
});

test('the syntax checker agrees with JSON.parse on generated texts', () => {
  const pieces = ['{', '}', '[', ']', ',', ':', '"a"', '"\\u00', '1', '-', '0', '.5', 'e', 'true', 'nul', ' ', '\n', '"x\\"'];
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
  for (let n = 0; n < 3000; n++) {
    const text = Array.from({ length: 1 + (next() % 8) }, () => pieces[next() % pieces.length]).join('');
    let parsed = true;
    try {
      JSON.parse(text);
    } catch {
      parsed = false;
    }
    assert.equal(findJsonSyntaxError(text) === undefined, parsed, text);
  }
});
