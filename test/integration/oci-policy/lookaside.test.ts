/**
 * Signature fetching from lookaside stores (file:// and http on loopback) with hostile
 * stores: too large, too many, stalled, failing; and the order of checks in a simple-signing
 * verification (OpenPGP first, the JSON payload only after).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { isAgentError } from '../../../agent/core/errors.js';
import { fetchSignatures, MAX_SIGNATURE_BYTES, MAX_SIGNATURES } from '../../../agent/host/oci/lookaside.js';
import { signManifest, verifySignature } from '../../../agent/host/oci/simple-signing.js';
import { tmpdir } from '../../lib/tmpdir.js';

const ref = { registry: 'quay.io', repository: 'org/app', tag: 'v1' };
const digest = 'sha256:' + 'ab'.repeat(32);
const sigPath = `/org/app@sha256=${'ab'.repeat(32)}`;

async function serve(t: { after(fn: () => unknown): void }, handle: (n: number, res: ServerResponse) => void): Promise<string> {
  const server = createServer((req, res) => {
    const m = /signature-(\d+)$/.exec(req.url ?? '');
    if (!m || !(req.url ?? '').startsWith(`/base${sigPath}/`)) return void res.writeHead(404).end();
    handle(Number(m[1]), res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/base`;
}

test('file:// store: signature-1, -2 … until the first missing one; bounded in size and number', async (t) => {
  const dir = await tmpdir(t, 'look-');
  await mkdir(join(dir, sigPath), { recursive: true });
  await writeFile(join(dir, sigPath, 'signature-1'), 'one');
  await writeFile(join(dir, sigPath, 'signature-2'), 'two');
  await writeFile(join(dir, sigPath, 'signature-4'), 'after a gap: never read');
  const sigs = await fetchSignatures(`file://${dir}`, ref, digest);
  assert.deepEqual(sigs.map((s) => Buffer.from(s.bytes).toString()), ['one', 'two']);
  assert.deepEqual(await fetchSignatures(`file://${dir}/nothing`, ref, digest), []);

  await writeFile(join(dir, sigPath, 'signature-3'), Buffer.alloc(MAX_SIGNATURE_BYTES + 1));
  await assert.rejects(fetchSignatures(`file://${dir}`, ref, digest), (e) => isAgentError(e, 'image.response-too-large'));

  for (let n = 3; n <= MAX_SIGNATURES + 1; n++) await writeFile(join(dir, sigPath, `signature-${n}`), 'x');
  await assert.rejects(fetchSignatures(`file://${dir}`, ref, digest), (e) => isAgentError(e, 'image.response-too-large') && /more than 64 signatures/.test((e as Error).message));
});

test('http store: 404 ends the list; an error status, an oversized or a stalled signature fail with typed errors', async (t) => {
  let base = await serve(t, (n, res) => (n <= 2 ? res.writeHead(200).end(`sig${n}`) : res.writeHead(404).end()));
  assert.deepEqual((await fetchSignatures(base, ref, digest)).map((s) => [s.url.slice(base.length), Buffer.from(s.bytes).toString()]), [
    [`${sigPath}/signature-1`, 'sig1'], [`${sigPath}/signature-2`, 'sig2'],
  ]);

  base = await serve(t, (n, res) => (n === 1 ? res.writeHead(200).end('sig1') : res.writeHead(500).end()));
  await assert.rejects(fetchSignatures(base, ref, digest), (e) => isAgentError(e, 'image.http-status'), 'a server error is not "no more signatures"');

  base = await serve(t, (_n, res) => {
    res.writeHead(200);
    const chunk = Buffer.alloc(1 << 20);
    for (let i = 0; i < 6; i++) res.write(chunk);
    res.end();
  });
  await assert.rejects(fetchSignatures(base, ref, digest), (e) => isAgentError(e, 'image.response-too-large'));

  base = await serve(t, (_n, res) => {
    res.writeHead(200, { 'content-length': '1000' });
    res.write('partial');
  });
  const started = Date.now();
  await assert.rejects(fetchSignatures(base, ref, digest, { idleTimeoutMs: 300 }), (e) => isAgentError(e, 'image.download-stalled'));
  assert.ok(Date.now() - started < 3000, `a stalled store is given up on after its deadline (${Date.now() - started} ms)`);

  const controller = new AbortController();
  controller.abort();
  await assert.rejects(fetchSignatures(base, ref, digest, { signal: controller.signal }), (e) => isAgentError(e, 'image.cancelled'));
});

test('verification: the OpenPGP signature is checked with the rule keys before the payload is read', async () => {
  const openpgp = await import('openpgp');
  const make = () => openpgp.generateKey({ type: 'ecc', curve: 'ed25519Legacy', userIDs: [{ name: 'k' }], format: 'object' });
  const [signer, other] = [await make(), await make()];
  const manifest = new TextEncoder().encode('{"schemaVersion":2}');
  const garbage = (await openpgp.sign({ message: await openpgp.createMessage({ binary: new TextEncoder().encode('not json {') }), signingKeys: signer.privateKey, format: 'binary' })) as Uint8Array;

  await assert.rejects(verifySignature(garbage, 'sig', [other.publicKey], manifest),
    (e) => isAgentError(e, 'image.signature-invalid') && /does not verify with the rule's keys/.test((e as Error).message), 'an untrusted signer: the payload is never parsed');
  await assert.rejects(verifySignature(garbage, 'sig', [signer.publicKey], manifest),
    (e) => isAgentError(e, 'image.signature-invalid') && /not a container signature/.test((e as Error).message));

  const good = await signManifest(manifest, 'quay.io/org/app:v1', signer.privateKey);
  const verified = await verifySignature(good, 'sig', [other.publicKey, signer.publicKey], manifest);
  assert.equal(verified.fingerprint, signer.privateKey.getFingerprint());
  assert.equal(verified.manifestDigest, `sha256:${createHash('sha256').update(manifest).digest('hex')}`);
  await assert.rejects(verifySignature(good, 'sig', [signer.publicKey], new TextEncoder().encode('{"schemaVersion":2} ')),
    (e) => isAgentError(e, 'image.signature-mismatch'));

  const tampered = Uint8Array.from(good);
  tampered[tampered.length - 5]! ^= 1;
  await assert.rejects(verifySignature(tampered, 'sig', [signer.publicKey], manifest), (e) => isAgentError(e, 'image.signature-invalid'));
  await assert.rejects(verifySignature(new TextEncoder().encode('junk'), 'sig', [signer.publicKey], manifest), (e) => isAgentError(e, 'image.signature-invalid'));
});
