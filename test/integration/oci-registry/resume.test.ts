import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { RegistryClient } from '../../../agent/host/oci/registry-client.js';
import type { Descriptor } from '../../../agent/core/oci/manifest.js';
import { parseReference, type DockerReference } from '../../../agent/core/oci/reference.js';
import { startRegistry, type Registry } from '../../lib/registry.js';
import { pushImage, writeOciLayout } from '../../lib/oci-image.js';
import { tmpdir } from '../../lib/tmpdir.js';

interface HasAfter { after(fn: () => unknown): void }

interface Seen { path: string; range: string | undefined; status: number }

/**
 * A loopback proxy in front of the registry that cuts the connection of the first
 * `cuts` blob responses longer than `afterBytes` after that many bytes of body; with
 * `ignoreRange`, a server that answers range requests with the whole blob (200).
 */
async function cuttingProxy(t: HasAfter, upstream: string, afterBytes: number, cuts: number, options: { ignoreRange?: boolean } = {}): Promise<{ host: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  let left = cuts;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const [host, port] = upstream.split(':');
    const { range: _range, ...withoutRange } = req.headers;
    const headers = options.ignoreRange ? withoutRange : req.headers;
    const up = request({ host, port: Number(port), method: req.method, path: req.url, headers }, (answer) => {
      seen.push({ path: req.url ?? '', range: req.headers.range, status: answer.statusCode ?? 0 });
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      const longer = Number(answer.headers['content-length'] ?? 0) > afterBytes;
      if (!req.url?.includes('/blobs/') || req.method !== 'GET' || !longer || left === 0) {
        answer.pipe(res);
        return;
      }
      left--;
      let sent = 0;
      answer.on('data', (chunk: Buffer) => {
        if (sent >= afterBytes) return;
        const part = chunk.subarray(0, afterBytes - sent);
        sent += part.length;
        res.write(part, () => {
          if (sent >= afterBytes) res.socket?.destroy();
        });
      });
    });
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  return { host: `127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}

/** A 3 MiB uncompressed blob in a real registry, behind a proxy that cuts its first `cuts` responses after 1 MiB. */
async function cutBlob(t: HasAfter, cuts: number): Promise<{ registry: Registry; proxy: Awaited<ReturnType<typeof cuttingProxy>>; client: RegistryClient; ref: DockerReference; layer: Descriptor }> {
  const registry = await startRegistry(t);
  const layout = await writeOciLayout(join(await tmpdir(t, 'oci-'), 'layout'), 'big', {
    layers: [{ entries: [{ name: 'noise', content: { random: 3 << 20 } }], compression: 'none' }],
  });
  await pushImage(layout, `${registry.host}/r/big:1`);
  const proxy = await cuttingProxy(t, registry.host, 1 << 20, cuts);
  const client = new RegistryClient({ platform: { os: 'linux', architecture: 'amd64' } });
  const ref = parseReference(`${proxy.host}/r/big:1`);
  const layer = (await client.resolve(ref)).layers[0]?.descriptor;
  assert.ok(layer && layer.size > 3 << 20);
  return { registry, proxy, client, ref, layer };
}

test('a blob whose connection is cut mid-way is resumed with Range from the bytes on disk (206), hashed over all of them', async (t) => {
  const { proxy, client, ref, layer } = await cutBlob(t, 2);
  const file = join(await tmpdir(t, 'blob-'), 'partial');
  const progress: number[] = [];
  await client.downloadBlob(ref, layer, file, { onProgress: (done) => progress.push(done) });
  assert.equal((await stat(file)).size, layer.size);
  assert.equal(await sha256File(file), layer.digest);
  const blobGets = proxy.seen.filter((s) => s.path.includes('/blobs/') && s.path.includes(layer.digest));
  assert.equal(blobGets.length, 3, 'cut twice, then finished');
  assert.equal(blobGets[0]?.range, undefined);
  for (const resumed of blobGets.slice(1)) {
    assert.match(resumed.range ?? '', /^bytes=[1-9][0-9]*-$/);
    assert.equal(resumed.status, 206);
  }
  assert.ok(progress.at(-1) === layer.size && Math.max(...progress) === layer.size);
});

test('the resume API: a caller holding a partial file passes its length and hash; a wrong prefix fails the digest check', async (t) => {
  const registry = await startRegistry(t);
  const layout = await writeOciLayout(join(await tmpdir(t, 'oci-'), 'layout'), 'x', {
    layers: [{ entries: [{ name: 'noise', content: { random: 1 << 20 } }] }],
  });
  await pushImage(layout, `${registry.host}/r/x:1`);
  const client = new RegistryClient();
  const ref = parseReference(`${registry.host}/r/x:1`);
  const layer = layout.images[0]?.layers[0];
  assert.ok(layer);
  const whole = await readFile(join(layout.dir, 'blobs/sha256', layer.digest.slice(7)));
  const offset = 100_000;
  const file = join(await tmpdir(t, 'blob-'), 'partial');
  await pipeline(async function* () { yield whole.subarray(0, offset); }, createWriteStream(file));
  const hash = createHash('sha256').update(whole.subarray(0, offset));
  await pipeline(await client.fetchBlob(ref, layer, { offset, hash }), createWriteStream(file, { flags: 'a' }));
  assert.deepEqual(await readFile(file), whole);
  // The same with a hash over other bytes: the stream fails.
  const wrong = createHash('sha256').update(Buffer.alloc(offset));
  await assert.rejects(pipeline(await client.fetchBlob(ref, layer, { offset, hash: wrong }), createWriteStream(join(file + '.2'))), { code: 'image.digest-mismatch' });
});

test('a server that answers the range request with the whole blob (200): the bytes already on disk are skipped', async (t) => {
  const registry = await startRegistry(t);
  const layout = await writeOciLayout(join(await tmpdir(t, 'oci-'), 'layout'), 'big', {
    layers: [{ entries: [{ name: 'noise', content: { random: 2 << 20 } }], compression: 'none' }],
  });
  await pushImage(layout, `${registry.host}/r/big:1`);
  const proxy = await cuttingProxy(t, registry.host, 1 << 20, 1, { ignoreRange: true });
  const client = new RegistryClient({ platform: { os: 'linux', architecture: 'amd64' } });
  const ref = parseReference(`${proxy.host}/r/big:1`);
  const layer = (await client.resolve(ref)).layers[0]?.descriptor;
  assert.ok(layer);
  const file = join(await tmpdir(t, 'blob-'), 'partial');
  await client.downloadBlob(ref, layer, file);
  assert.equal(await sha256File(file), layer.digest);
  const gets = proxy.seen.filter((s) => s.path.includes(layer.digest));
  assert.deepEqual(gets.map((g) => g.status), [200, 200]);
  assert.match(gets[1]?.range ?? '', /^bytes=[1-9]/, 'the client asked for a range');
});

test('resumableBlob: a stream cut twice is resumed with Range from the bytes delivered; the consumer sees each byte once', async (t) => {
  const { registry, proxy, client, ref, layer } = await cutBlob(t, 2);
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of client.resumableBlob(ref, layer) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  assert.equal(bytes, layer.size);
  assert.equal(`sha256:${hash.digest('hex')}`, layer.digest);
  const gets = proxy.seen.filter((s) => s.path.includes(layer.digest));
  assert.equal(gets.length, 3, 'cut twice, then finished');
  for (const resumed of gets.slice(1)) assert.deepEqual([/^bytes=[1-9][0-9]*-$/.test(resumed.range ?? ''), resumed.status], [true, 206]);
  // Cut more often than the attempts allow: the stream fails, naming the download.
  const often = await cuttingProxy(t, registry.host, 1 << 20, 5);
  const refused = client.resumableBlob(parseReference(`${often.host}/r/big:1`), layer, { attempts: 2 });
  await assert.rejects(async () => {
    for await (const _ of refused as AsyncIterable<Buffer>) { /* drain */ }
  }, (e: Error & { code?: string }) => typeof e.code === 'string' && e.code.startsWith('image.download'));
});
