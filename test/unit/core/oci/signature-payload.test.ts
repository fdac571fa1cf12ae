import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isAgentError } from '../../../../agent/core/errors.js';
import { buildSignaturePayload, checkSignedDigest, parseSignaturePayload } from '../../../../agent/core/oci/signature-payload.js';

const digest = 'sha256:' + 'ab'.repeat(32);
const good = { critical: { type: 'atomic container signature', image: { 'docker-manifest-digest': digest }, identity: { 'docker-reference': 'quay.io/a/b:1' } }, optional: { creator: 'x', timestamp: 1700000000 } };
const refused = (text: string, re: RegExp) => assert.throws(() => parseSignaturePayload(text, 'sig'), (e: unknown) => isAgentError(e, 'image.signature-invalid') && re.test((e as Error).message));

test('a skopeo-shaped payload parses; building and parsing round-trips', () => {
  assert.deepEqual(parseSignaturePayload(JSON.stringify(good), 'sig'), { manifestDigest: digest, dockerReference: 'quay.io/a/b:1', creator: 'x', timestamp: 1700000000 });
  const built = buildSignaturePayload({ manifestDigest: digest, dockerReference: 'quay.io/a/b:1' });
  assert.deepEqual(parseSignaturePayload(built, 'sig'), { manifestDigest: digest, dockerReference: 'quay.io/a/b:1' });
});

test('the payload is parsed strictly', () => {
  refused(JSON.stringify({ ...good, extra: 1 }), /extra: unknown field/);
  refused(JSON.stringify({ critical: good.critical }), /optional: missing/);
  refused(JSON.stringify({ ...good, critical: { ...good.critical, x: 1 } }), /critical\.x: unknown field/);
  refused(JSON.stringify({ ...good, critical: { ...good.critical, type: 'other' } }), /critical\.type/);
  refused(JSON.stringify({ ...good, critical: { ...good.critical, image: { 'docker-manifest-digest': digest, more: 1 } } }), /critical\.image\.more/);
  refused(JSON.stringify({ ...good, critical: { ...good.critical, identity: {} } }), /docker-reference: missing/);
  refused(JSON.stringify({ ...good, optional: [] }), /optional: must be a JSON object/);
  refused(JSON.stringify({ ...good, optional: { timestamp: 1.5 } }), /timestamp: must be an integer/);
  refused(JSON.stringify({ ...good, optional: { creator: 7 } }), /creator: must be a string/);
  refused(`{"critical":${JSON.stringify(good.critical)},"critical":${JSON.stringify(good.critical)},"optional":{}}`, /duplicate key/);
  refused(`${JSON.stringify(good)} x`, /unexpected data/);
  refused(`{"critical":${'['.repeat(100000)}`, /nested deeper than 64 levels/);
});

test('the signed digest must be the manifest fetched', () => {
  const p = parseSignaturePayload(JSON.stringify(good), 'sig');
  checkSignedDigest(p, digest, 'sig');
  assert.throws(() => checkSignedDigest(p, digest.toUpperCase(), 'sig'), (e: unknown) => isAgentError(e, 'image.signature-mismatch'));
  assert.throws(() => checkSignedDigest(p, 'sha256:' + 'cd'.repeat(32), 'sig'), (e: unknown) => isAgentError(e, 'image.signature-mismatch'));
});
