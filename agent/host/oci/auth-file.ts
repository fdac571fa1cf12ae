/**
 * Registry credentials from a containers-auth.json file (containers-auth.json(5), what
 * `podman login --authfile` writes): `{"auths": {"KEY": {"auth": base64("user:password")}}}`
 * where KEY is `HOST[:PORT]`, `HOST[:PORT]/NAMESPACE` or `HOST[:PORT]/REPO`. The most
 * specific key wins: for `reg/ns/app` the keys `reg/ns/app`, `reg/ns`, `reg` are tried in
 * that order. Legacy keys written as URLs (`https://index.docker.io/v1/`) count for their
 * host. A missing file means no credentials; a malformed one is an error naming the file.
 */
import { readFile } from 'node:fs/promises';
import { AgentError } from '../../core/errors.js';
import { DOCKER_HUB, type DockerReference } from '../../core/oci/reference.js';

export interface Credentials {
  username: string;
  password: string;
}

/** The key of a legacy URL entry, normalised to its host; other keys unchanged. */
function normaliseKey(key: string): string {
  const match = /^https?:\/\/([^/]+)/.exec(key);
  const host = match ? match[1] as string : key;
  return host === 'index.docker.io' || host.startsWith('index.docker.io/') ? host.replace('index.docker.io', DOCKER_HUB) : host;
}

function invalid(file: string, message: string): AgentError {
  return new AgentError({
    code: 'image.auth-file-invalid',
    message,
    subject: file,
    hint: 'Fix the file (it has the containers-auth.json format: {"auths": {"registry.example.com": {"auth": "base64 of user:password"}}}), or write it again with podman login --authfile',
  });
}

function decode(file: string, key: string, entry: unknown): Credentials | undefined {
  if (typeof entry !== 'object' || entry === null) throw invalid(file, `auths["${key}"] is not an object`);
  const auth = (entry as Record<string, unknown>).auth;
  if (auth === undefined || auth === '') return undefined;
  if (typeof auth !== 'string') throw invalid(file, `auths["${key}"].auth is not a string`);
  const text = Buffer.from(auth, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon < 0) throw invalid(file, `auths["${key}"].auth is not base64 of user:password`);
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}

/** The credentials for `ref`'s repository in the auth file at `file`; undefined when none. */
export async function credentialsFor(file: string, ref: Pick<DockerReference, 'registry' | 'repository'>): Promise<Credentials | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw invalid(file, `not valid JSON (${(e as Error).message})`);
  }
  const auths = (doc as { auths?: unknown } | null)?.auths;
  if (auths === undefined) return undefined;
  if (typeof auths !== 'object' || auths === null || Array.isArray(auths)) throw invalid(file, '"auths" is not an object');
  const entries = new Map<string, [string, unknown]>();
  for (const [key, entry] of Object.entries(auths)) {
    const normal = normaliseKey(key);
    if (!entries.has(normal) || normal === key) entries.set(normal, [key, entry]);
  }
  const parts = ref.repository.split('/');
  for (let n = parts.length; n >= 0; n--) {
    const key = [ref.registry, ...parts.slice(0, n)].join('/');
    const found = entries.get(key);
    if (found) return decode(file, found[0], found[1]);
  }
  return undefined;
}
