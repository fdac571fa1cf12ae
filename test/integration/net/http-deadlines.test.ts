import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bodyMeter, httpGet, readBody } from '../../../agent/host/net/http.js';
import { dripServer, silentServer, unansweredPort } from '../../lib/hostile-http.js';
import { makeTestCa, startHttpsServer } from '../../lib/https.js';
import { tmpdir } from '../../lib/tmpdir.js';

/** Time `fn` until it rejects; returns the error and the seconds taken. */
async function failure(fn: () => Promise<unknown>): Promise<{ error: { code: string; message: string; subject: string }; seconds: number }> {
  const start = performance.now();
  try {
    await fn();
  } catch (e) {
    return { error: e as { code: string; message: string; subject: string }, seconds: (performance.now() - start) / 1000 };
  }
  throw new Error('did not fail');
}

async function drain(url: string, options: Parameters<typeof httpGet>[1]): Promise<void> {
  const res = await httpGet(url, options);
  for await (const _ of bodyMeter(res)) { /* discard */ }
}

test('a server dripping 1 KiB every 0.5 s is given up on after one rate window, with URL, bytes and rate', async (t) => {
  const drip = await dripServer(t);
  const url = `${drip.url}/usr.img`;
  const { error, seconds } = await failure(() => drain(url, { allowHttp: true, errors: 'update', rateWindowMs: 2000, minBytesPerSecond: 4096 }));
  assert.equal(error.code, 'update.download-too-slow');
  assert.equal(error.subject, url);
  assert.match(error.message, /sent \d+ bytes in the last 2 s \(\d+ B\/s, below the minimum of 4096 B\/s\); \d+ bytes received in all/);
  assert.ok(seconds >= 1.9 && seconds < 3, `aborted after ${seconds} s`);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(drip.closed(), 1, 'the connection is closed');
  // The same for a small body (manifest, signature, key, discovery page) and the image domain.
  const small = await failure(async () => readBody(await httpGet(url, { allowHttp: true, rateWindowMs: 1000 })));
  assert.equal(small.error.code, 'image.download-too-slow');
  assert.ok(small.seconds < 2, `aborted after ${small.seconds} s`);
});

test('a steady server above the minimum rate is not cut off, window after window', async (t) => {
  const drip = await dripServer(t, { bytes: 16 * 1024, everyMs: 200 }); // 80 KiB/s
  const res = await httpGet(`${drip.url}/x`, { allowHttp: true, rateWindowMs: 500 });
  let got = 0;
  for await (const chunk of bodyMeter(res)) {
    got += (chunk as Buffer).length;
    if (got > 300 * 1024) break; // ≈ 4 s: several windows passed
  }
  assert.ok(got > 300 * 1024);
});

test('a server that accepts the connection but never answers: no-response within the response timeout', async (t) => {
  const silent = await silentServer(t);
  const { error, seconds } = await failure(() => httpGet(`${silent.url}/release.json`, { allowHttp: true, errors: 'update', responseTimeoutMs: 1000 }));
  assert.equal(error.code, 'update.fetch-failed');
  assert.match(error.message, /accepted the connection but sent no response within 1 s/);
  assert.ok(seconds >= 0.9 && seconds < 2, `after ${seconds} s`);
  const image = await failure(() => httpGet(`${silent.url}/x.aci`, { allowHttp: true, responseTimeoutMs: 500 }));
  assert.equal(image.error.code, 'image.download-stalled');
});

test('a signal cancels a download before it starts, while waiting for headers, and mid-body', async (t) => {
  const [drip, silent] = await Promise.all([dripServer(t, { everyMs: 50 }), silentServer(t)]);
  const before = new AbortController();
  before.abort();
  assert.equal((await failure(() => httpGet(`${drip.url}/a`, { allowHttp: true, signal: before.signal }))).error.code, 'image.cancelled');

  const headers = new AbortController();
  setTimeout(() => headers.abort(), 200);
  const h = await failure(() => httpGet(`${silent.url}/b`, { allowHttp: true, errors: 'update', signal: headers.signal }));
  assert.equal(h.error.code, 'update.cancelled');
  assert.ok(h.seconds < 0.5);

  const body = new AbortController();
  setTimeout(() => body.abort(), 300);
  const b = await failure(() => drain(`${drip.url}/c`, { allowHttp: true, errors: 'update', signal: body.signal }));
  assert.equal(b.error.code, 'update.cancelled');
  assert.ok(b.seconds < 0.6, `after ${b.seconds} s`);
});

test('a connection that never completes (the SYN goes unanswered) fails after the connect timeout', async (t) => {
  const port = await unansweredPort(t);
  const { error, seconds } = await failure(() => httpGet(`${port.url}/release.json`, { allowHttp: true, errors: 'update', connectTimeoutMs: 1000 }));
  assert.equal(error.code, 'update.fetch-failed');
  assert.match(error.message, /no connection to the server within 1 s/);
  assert.ok(seconds >= 0.9 && seconds < 2, `after ${seconds} s`);
});

test('over https the deadlines count from the TLS handshake: a stalled body is cut by the rate window', async (t) => {
  const root = await tmpdir(t);
  await writeFile(join(root, 'stalled.aci'), Buffer.alloc(1 << 20));
  const server = await startHttpsServer(t, root, await makeTestCa(t));
  server.faults.set('/stalled.aci', { kind: 'stall', afterBytes: 100 });
  const url = `${server.url}/stalled.aci`;
  const { error, seconds } = await failure(() => drain(url, { ca: server.ca, idleTimeoutMs: 20_000, rateWindowMs: 700 }));
  assert.equal(error.code, 'image.download-too-slow');
  assert.equal(error.subject, url);
  assert.ok(seconds < 2, `after ${seconds} s`);
});
