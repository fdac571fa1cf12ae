// scripts/lib/serve-https.mjs — the demo's static HTTPS server for published images.
//
//   node serve-https.mjs ROOT PORT CERT KEY
//
// Serves the files under ROOT on 127.0.0.1:PORT as any static web server does: the query
// is ignored, /dir redirects to /dir/, which serves /dir/index.html. `agentctl image
// publish` lays out what it serves; agentd and agentctl reach it through appc discovery
// (HOST_AGENT_DISCOVERY_PORT) and trust its CA through NODE_EXTRA_CA_CERTS.
import { createReadStream, readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer } from 'node:https';
import { join, normalize } from 'node:path';

const [root, port, cert, key] = process.argv.slice(2);
if (!key) {
  console.error('usage: serve-https.mjs ROOT PORT CERT KEY');
  process.exit(2);
}
const server = createServer({ cert: readFileSync(cert), key: readFileSync(key) }, async (req, res) => {
  const url = new URL(req.url ?? '/', 'https://localhost');
  let file = join(root, normalize(decodeURIComponent(url.pathname)).replace(/^(\.\.[/\\])+/, ''));
  let info = await stat(file).catch(() => undefined);
  if (info?.isDirectory()) {
    if (!url.pathname.endsWith('/')) {
      res.writeHead(301, { location: `${url.pathname}/${url.search}` }).end();
      return;
    }
    file = join(file, 'index.html');
    info = await stat(file).catch(() => undefined);
  }
  console.log(`${req.method} ${req.url} ${info?.isFile() ? 200 : 404}`);
  if (!info?.isFile()) {
    res.writeHead(404).end('not found\n');
    return;
  }
  res.writeHead(200, { 'content-length': info.size, 'content-type': file.endsWith('.html') ? 'text/html' : 'application/octet-stream' });
  createReadStream(file).pipe(res);
});
server.listen(Number(port), '127.0.0.1', () => console.log(`serving ${root} on https://127.0.0.1:${port}/`));
