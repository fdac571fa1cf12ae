import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createPrivateKey, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { RegistryClient } from '../../../agent/host/oci/registry-client.js';
import { parseReference } from '../../../agent/core/oci/reference.js';
import { startRegistry } from '../../lib/registry.js';
import { pushImage, writeOciLayout } from '../../lib/oci-image.js';
import { tmpdir } from '../../lib/tmpdir.js';

const run = promisify(execFile);
interface HasAfter { after(fn: () => unknown): void }

const USER = 'tester';
const PASSWORD = 'pa:ss';
const SERVICE = 'host-agent-test-registry';
const ISSUER = 'host-agent-test-token-server';

interface SigningKey { key: KeyObject; certDer: Buffer; pem: string }

/** An EC P-256 key and its self-signed certificate (made by openssl). */
async function signingKey(dir: string, name: string): Promise<SigningKey> {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.pem`);
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert,
    '-days', '2', '-subj', `/CN=${name}`]);
  const pem = await readFile(cert, 'utf8');
  return { key: createPrivateKey(await readFile(key)), certDer: Buffer.from(new X509Certificate(pem).raw), pem };
}

const b64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

/** A JWT as distribution's token auth checks it: ES256, the certificate in `x5c`. */
function jwt(key: SigningKey, access: Array<{ type: string; name: string; actions: string[] }>): string {
  const now = Math.floor(Date.now() / 1000);
  const header = b64url(JSON.stringify({ typ: 'JWT', alg: 'ES256', x5c: [key.certDer.toString('base64')] }));
  const claims = b64url(JSON.stringify({ iss: ISSUER, sub: USER, aud: SERVICE, exp: now + 300, nbf: now - 10, iat: now, jti: randomBytes(8).toString('hex'), access }));
  const signature = sign('sha256', Buffer.from(`${header}.${claims}`), { key: key.key, dsaEncoding: 'ieee-p1363' });
  return `${header}.${claims}.${b64url(signature)}`;
}

interface TokenServer {
  realm: string;
  /** Authorization headers and scopes asked with, in order. */
  requests: Array<{ authorization: string | undefined; scope: string[] }>;
  /** Sign with this key (the registry trusts only the first). */
  signer: SigningKey;
}

/** A token server: Basic USER:PASSWORD gets a token for the scopes asked; anything else 401. */
async function tokenServer(t: HasAfter, signer: SigningKey): Promise<TokenServer> {
  const state: TokenServer = { realm: '', requests: [], signer };
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const scope = url.searchParams.getAll('scope');
    state.requests.push({ authorization: req.headers.authorization, scope });
    if (req.headers.authorization !== `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}` || url.searchParams.get('service') !== SERVICE) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"bad credentials"}');
      return;
    }
    const access = scope.map((s) => {
      const [type, name, actions] = s.split(':');
      return { type: type as string, name: name as string, actions: (actions ?? '').split(',') };
    });
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: jwt(state.signer, access), expires_in: 300 }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  state.realm = `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`;
  return state;
}

/** A loopback HTTP server for this test; returns its `127.0.0.1:PORT`. */
async function listen(t: HasAfter, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

test('token auth: GET /v2/ → Bearer challenge → token from the realm with the auth file\'s credentials → the registry accepts it; wrong credentials, no credentials and a token the registry does not trust are refused', async (t) => {
  const dir = await tmpdir(t, 'token-');
  const good = await signingKey(dir, 'token-signer');
  const rogue = await signingKey(dir, 'rogue-signer');
  const bundle = join(dir, 'bundle.pem');
  await writeFile(bundle, good.pem);
  const tokens = await tokenServer(t, good);
  const registry = await startRegistry(t, { auth: { token: { realm: tokens.realm, service: SERVICE, issuer: ISSUER, rootCertBundle: bundle } } });
  const layout = await writeOciLayout(join(dir, 'layout'), 'x', { layers: [{ entries: [{ name: 'hello', content: 'hi\n' }] }] });
  await pushImage(layout, `${registry.host}/private/app:1`, { creds: `${USER}:${PASSWORD}` });

  const ref = parseReference(`${registry.host}/private/app:1`);
  const authFile = join(dir, 'auth.json');
  const auth = (user: string, password: string) => writeFile(authFile, JSON.stringify({
    auths: { [registry.host]: { auth: 'bm9ib2R5Om5vdGhpbmc=' }, [`${registry.host}/private`]: { auth: Buffer.from(`${user}:${password}`).toString('base64') } },
  }));
  await auth(USER, PASSWORD);
  tokens.requests.length = 0;
  const image = await new RegistryClient({ authFile, platform: { os: 'linux', architecture: 'amd64' } }).resolve(ref);
  assert.equal(image.manifest.digest, layout.top.digest);
  assert.equal(tokens.requests.length, 1, 'one token for the manifest and the config');
  assert.deepEqual(tokens.requests[0]?.scope, ['repository:private/app:pull']);
  assert.equal(tokens.requests[0]?.authorization, `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`, 'the most specific key of the auth file');

  await auth(USER, 'wrong');
  await assert.rejects(new RegistryClient({ authFile }).resolve(ref), (e: { code: string; message: string; hint: string }) => {
    assert.equal(e.code, 'image.registry-auth');
    assert.match(e.message, /token server http:\/\/127\.0\.0\.1:\d+ refused the credentials of tester for repository private\/app \(HTTP 401\)/);
    assert.match(e.hint, new RegExp(`credentials for ${registry.host} in the auth file ${authFile}`));
    return true;
  });
  await assert.rejects(new RegistryClient().resolve(ref), (e: { code: string; message: string; hint: string }) => {
    assert.equal(e.code, 'image.registry-auth');
    assert.match(e.message, /refused anonymous access/);
    assert.match(e.hint, /auth file/);
    return true;
  });

  // The token server signs with a key the registry does not trust: the registry answers 401.
  await auth(USER, PASSWORD);
  tokens.signer = rogue;
  tokens.requests.length = 0;
  await assert.rejects(new RegistryClient({ authFile }).resolve(ref), (e: { code: string; message: string }) => {
    assert.equal(e.code, 'image.registry-auth');
    assert.match(e.message, new RegExp(`registry ${registry.host} \\(repository private/app\\) refused access \\(HTTP 401: UNAUTHORIZED`));
    return true;
  });
  assert.equal(tokens.requests.length, 2, 'a new token was asked for once after the 401');
});

test('Basic auth: credentials from the auth file (a legacy URL key counts for its host), never sent on to a redirect to another origin', async (t) => {
  // distribution's htpasswd auth needs TLS; a small Basic-auth front on loopback stands in.
  const registry = await startRegistry(t);
  const dir = await tmpdir(t, 'basic-');
  const layout = await writeOciLayout(join(dir, 'layout'), 'x', { layers: [{ entries: [{ name: 'hello', content: 'hi\n' }] }] });
  await pushImage(layout, `${registry.host}/b/app:1`);
  const expected = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
  const forward = (req: IncomingMessage, res: ServerResponse) => {
    const up = request({ host: '127.0.0.1', port: Number(registry.host.split(':')[1]), method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    req.pipe(up);
  };
  // Blobs are served from another origin (as registries redirect to a CDN), which must not see the credentials.
  const cdnSaw: Array<string | undefined> = [];
  const cdn = await listen(t, (req, res) => {
    cdnSaw.push(req.headers.authorization);
    forward(req, res);
  });
  const front = await listen(t, (req, res) => {
    if (req.headers.authorization !== expected) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="registry"' }).end();
    } else if (req.url?.includes('/blobs/')) {
      res.writeHead(307, { location: `http://${cdn}${req.url}` }).end();
    } else {
      forward(req, res);
    }
  });
  const host = front;
  const authFile = join(dir, 'auth.json');
  await writeFile(authFile, JSON.stringify({ auths: { [`http://${host}/v1/`]: { auth: Buffer.from(`${USER}:${PASSWORD}`).toString('base64') } } }));
  const image = await new RegistryClient({ authFile }).resolve(parseReference(`${host}/b/app:1`));
  assert.equal(image.manifest.digest, layout.top.digest);
  assert.deepEqual(cdnSaw, [undefined], 'the config blob came from the other origin, without credentials');
  await assert.rejects(new RegistryClient().resolve(parseReference(`${host}/b/app:1`)), (e: { code: string; message: string }) => {
    assert.equal(e.code, 'image.registry-auth');
    assert.match(e.message, /needs a user name and password/);
    return true;
  });
});
