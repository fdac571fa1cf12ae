/**
 * Shared set-up of the agentctl image tests: real gpg keys (one for localhost/app, one
 * stranger), signed images on a real HTTPS server on 127.0.0.1 whose CA agentctl trusts
 * through NODE_EXTRA_CA_CERTS, discovery pages for `localhost/app` (images and public
 * keys) on the server's port (HOST_AGENT_DISCOVERY_PORT), and key files on disk.
 */
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { goodImage, writeAci } from '../../lib/aci.js';
import { makeGpg, type GpgKey } from '../../lib/gpg.js';
import { makeTestCa, startHttpsServer, type TestHttpsServer } from '../../lib/https.js';
import { tmpdir } from '../../lib/tmpdir.js';

interface HasAfter {
  after(fn: () => unknown): void;
}

export const NAME = 'localhost/app';

export interface ImagesWorld {
  dir: string;
  server: TestHttpsServer;
  app: GpgKey;
  stranger: GpgKey;
  /** Armored public key files. */
  appKeyFile: string;
  strangerKeyFile: string;
  /** A signed image of localhost/app (gzip). */
  signed: string;
  /** localhost/app signed by the stranger. */
  strangerSigned: string;
  /** localhost/app without signature. */
  unsigned: string;
  /** Environment for agentctl: the CA, the discovery port, no agent unless a bus is added. */
  env: NodeJS.ProcessEnv;
}

export async function makeImagesWorld(t: HasAfter): Promise<ImagesWorld> {
  const gpg = await makeGpg(t);
  const app = await gpg.newKey('App Publisher <app@localhost>');
  const stranger = await gpg.newKey('Stranger <stranger@example.net>');
  const dir = await tmpdir(t, 'images-cli-');
  const www = join(dir, 'www');
  await mkdir(join(www, 'images'), { recursive: true });
  const server = await startHttpsServer(t, www, await makeTestCa(t));

  const signed = await writeAci(join(dir, 'app.aci'), goodImage(NAME, { version: '1.0.0' }), 'gzip');
  await gpg.sign(signed, app);
  const strangerSigned = await writeAci(join(dir, 'stranger.aci'), goodImage(NAME, { version: '6.6.6' }), 'gzip');
  await gpg.sign(strangerSigned, stranger);
  const unsigned = await writeAci(join(dir, 'unsigned.aci'), goodImage(NAME, { version: '0.0.1' }));

  const appKeyFile = join(dir, 'app.pub.asc');
  await writeFile(appKeyFile, app.armored);
  const strangerKeyFile = join(dir, 'stranger.pub.asc');
  await writeFile(strangerKeyFile, stranger.armored);

  // Served: the image by URL, by discovery template, and the public key.
  await copyFile(signed, join(www, 'app.aci'));
  await copyFile(`${signed}.asc`, join(www, 'app.aci.asc'));
  await copyFile(signed, join(www, 'images/app-1.0.0-linux-amd64.aci'));
  await copyFile(`${signed}.asc`, join(www, 'images/app-1.0.0-linux-amd64.aci.asc'));
  await writeFile(join(www, 'app.pub.asc'), app.armored);
  const base = `https://localhost:${server.port}`;
  server.pages.set('/app', `<html><head>
<meta name="ac-discovery" content="${NAME} ${base}/images/app-{version}-{os}-{arch}.{ext}">
<meta name="ac-discovery-pubkeys" content="${NAME} ${base}/app.pub.asc">
</head></html>`);

  const caFile = join(dir, 'ca.pem');
  await writeFile(caFile, server.ca);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_EXTRA_CA_CERTS: caFile,
    HOST_AGENT_DISCOVERY_PORT: String(server.port),
    // No agent on this bus: agentctl works directly on the store.
    HOST_AGENT_BUS: 'system',
    DBUS_SYSTEM_BUS_ADDRESS: `unix:path=${join(dir, 'no-bus')}`,
  };
  return { dir, server, app, stranger, appKeyFile, strangerKeyFile, signed, strangerSigned, unsigned, env };
}

/** Store and key directories for one test, as agentctl options and environment. */
export async function makePaths(t: HasAfter, env: NodeJS.ProcessEnv): Promise<{ stateDir: string; trustDir: string; env: NodeJS.ProcessEnv }> {
  const d = await tmpdir(t, 'images-cli-state-');
  const stateDir = join(d, 'state');
  const trustDir = join(d, 'trust');
  return {
    stateDir,
    trustDir,
    env: { ...env, HOST_AGENT_STATE_DIR: stateDir, HOST_AGENT_TRUST_DIR: trustDir, HOST_AGENT_SYSTEM_TRUST_DIR: join(d, 'system-trust') },
  };
}
