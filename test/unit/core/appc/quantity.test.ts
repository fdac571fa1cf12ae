import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseQuantity, QUANTITY_FORMAT_MESSAGE, QUANTITY_SUFFIX_MESSAGE } from '../../../../agent/core/appc/quantity.js';

test('quantities and their values', () => {
  const cases: [string, number][] = [
    ['20m', 0.02], ['1G', 1e9], ['1', 1], ['1.5', 1.5], ['128Mi', 128 * 2 ** 20], ['1Ki', 1024], ['1e3', 1000],
    ['1E', 1e18], ['0', 0], ['-1k', -1000], ['+2', 2], ['.5', 0.5], ['5.', 5], ['2E+2', 200],
  ];
  for (const [text, value] of cases) assert.equal(parseQuantity(text), value, text);
});

test('malformed quantities give the reference messages', () => {
  for (const text of ['', 'lots', '1X', '1 G', '1.2.3', '1G5x']) assert.equal(parseQuantity(text), QUANTITY_FORMAT_MESSAGE, text);
  for (const text of ['1K', '1Gi5', '1mi', '1ee']) assert.equal(parseQuantity(text), QUANTITY_SUFFIX_MESSAGE, text);
});
