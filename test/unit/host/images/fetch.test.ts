import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyImageArgument } from '../../../../agent/host/images/fetch.js';

const toApp = (text: string) => ({ name: text, labels: {} });

test('an image argument is a URL, a file path or a name for discovery', () => {
  assert.deepEqual(classifyImageArgument('https://example.com/app.aci', toApp), { kind: 'url', url: 'https://example.com/app.aci' });
  assert.deepEqual(classifyImageArgument('http://example.com/app.aci', toApp), { kind: 'url', url: 'http://example.com/app.aci' });
  for (const path of ['/srv/app.aci', './app', '../images/app', 'app.aci']) {
    assert.deepEqual(classifyImageArgument(path, toApp), { kind: 'file', path });
  }
  assert.deepEqual(classifyImageArgument('example.com/app', toApp), { kind: 'name', app: { name: 'example.com/app', labels: {} } });
});
