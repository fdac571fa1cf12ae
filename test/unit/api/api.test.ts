import { test } from 'node:test';
import assert from 'node:assert/strict';
import { splitSignature } from '../../../agent/api/signature.js';
import { agentIntrospectionXml, parentNodeXml } from '../../../agent/api/introspection.js';
import { AGENT_METHODS } from '../../../agent/api/agent1.js';

test('splitSignature splits complete types', () => {
  assert.deepEqual(splitSignature(''), []);
  assert.deepEqual(splitSignature('sa{sv}u'), ['s', 'a{sv}', 'u']);
  assert.deepEqual(splitSignature('a(yv)aas(ss)'), ['a(yv)', 'aas', '(ss)']);
  assert.throws(() => splitSignature('(ss'), /unterminated/);
  assert.throws(() => splitSignature('z'), /unsupported/);
});

test('introspection XML lists every method of the table with its arguments', () => {
  const xml = agentIntrospectionXml();
  for (const name of Object.keys(AGENT_METHODS)) assert.match(xml, new RegExp(`<method name="${name}">`));
  assert.match(xml, /<method name="GetStatus"><arg name="arg0" type="s" direction="out"\/><\/method>/);
  assert.match(xml, /<signal name="StatusChanged"><arg name="arg0" type="s"\/><\/signal>/);
  assert.match(parentNodeXml('hostagent'), /<node name="hostagent"\/>/);
});
