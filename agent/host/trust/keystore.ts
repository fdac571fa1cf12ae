/**
 * The trusted-key store: which OpenPGP keys may sign images, per image-name prefix.
 *
 * Layout, under two roots (admin `/etc/host-agent/trustedkeys`, system
 * `/usr/lib/host-agent/trustedkeys`): `root.d/<fingerprint>` trusts a key for every image,
 * `prefix.d/<prefix>/<fingerprint>` for names starting with `<prefix>` (plain string
 * prefix: `example.com/et` trusts `example.com/etcd`). File names are lowercase hex
 * fingerprints; contents are armored public keys. An empty admin file masks the system key
 * at the same relative path. Only the admin root is ever written.
 *
 * A key is what its file holds, whatever the file is called: a key is listed under the
 * fingerprint of its content, and `remove` finds it by that fingerprint (or a subkey's, or
 * the file name) in every place it is shipped, so afterwards it verifies nothing.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { AgentError } from '../../core/errors.js';
import { acIdentifierProblem } from '../../core/appc/names.js';
import { writeFileAtomic, removeFileDurably } from '../fs/atomic.js';
import { normalizeFingerprint, parsePublicKey, type ParsedKey } from './keys.js';

/** The fingerprints a key file answers to: its content's primary key and subkeys (first), and its name. */
async function fingerprintsOf(path: string, fileName: string): Promise<string[]> {
  const { readKey } = await import('openpgp');
  const key = await readKey({ armoredKey: await readFile(path, 'utf8') }).catch(() => undefined);
  const own = key ? [key, ...key.getSubkeys()].map((k) => k.getFingerprint().toLowerCase()) : [];
  return [...new Set([...own, fileName])];
}

export interface KeystorePaths {
  /** Keys added by the administrator (written by `agentctl trust`). */
  adminDir: string;
  /** Keys shipped with the OS (read only). */
  systemDir: string;
}

export const DEFAULT_KEYSTORE_PATHS: KeystorePaths = {
  adminDir: '/etc/host-agent/trustedkeys',
  systemDir: '/usr/lib/host-agent/trustedkeys',
};

/** What a key is trusted for: every image, or names starting with a prefix. */
export type TrustScope = { root: true } | { prefix: string };

export interface TrustedKey {
  fingerprint: string;
  /** The prefix the key is trusted for; undefined for a root key. */
  prefix: string | undefined;
  source: 'admin' | 'system';
  path: string;
  armored: string;
}

const FINGERPRINT_FILE = /^([0-9a-f]{40}|[0-9a-f]{64})$/;

/** Why `prefix` cannot name a trust prefix, or undefined. */
function prefixProblem(prefix: string): string | undefined {
  const id = acIdentifierProblem(prefix);
  if (id) return id;
  if (prefix.split('/').some((c) => c === '' || c === '.' || c === '..')) {
    return 'a prefix may not have empty, "." or ".." path components';
  }
  return undefined;
}

function scopeDir(root: string, scope: TrustScope): string {
  return 'root' in scope ? join(root, 'root.d') : join(root, 'prefix.d', ...scope.prefix.split('/'));
}

interface KeyFile {
  /** Path relative to its root, e.g. `prefix.d/example.com/app/<fp>`. */
  rel: string;
  fingerprint: string;
  prefix: string | undefined;
  empty: boolean;
}

async function walk(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const out: string[] = [];
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await walk(path)));
    else if (entry.isFile() && FINGERPRINT_FILE.test(entry.name)) out.push(path);
  }
  return out;
}

async function keyFiles(root: string): Promise<KeyFile[]> {
  const files: KeyFile[] = [];
  for (const [sub, isRoot] of [['root.d', true], ['prefix.d', false]] as const) {
    const base = join(root, sub);
    const paths = isRoot ? (await walk(base)).filter((p) => !relative(base, p).includes(sep)) : await walk(base);
    for (const path of paths) {
      const parts = relative(base, path).split(sep);
      const fingerprint = parts.pop()!;
      if (!isRoot && parts.length === 0) continue; // a key directly in prefix.d has no prefix
      files.push({
        rel: relative(root, path),
        fingerprint,
        prefix: isRoot ? undefined : parts.join('/'),
        empty: (await stat(path)).size === 0,
      });
    }
  }
  return files;
}

export class Keystore {
  constructor(private readonly paths: KeystorePaths) {}

  /** Trusts `armoredKey` for `scope`; refuses when neither a prefix nor root is given. */
  async add(armoredKey: string | Uint8Array, scope: Partial<{ root: boolean; prefix: string }>, source = 'key'): Promise<TrustedKey & { parsed: ParsedKey }> {
    const resolved = resolveScope(scope);
    const parsed = await parsePublicKey(armoredKey, source);
    const path = join(scopeDir(this.paths.adminDir, resolved), parsed.fingerprint);
    await writeFileAtomic(path, parsed.armored, { mode: 0o644, mkdirs: true });
    return {
      fingerprint: parsed.fingerprint,
      prefix: 'root' in resolved ? undefined : resolved.prefix,
      source: 'admin',
      path,
      armored: parsed.armored,
      parsed,
    };
  }

  /** Every trusted key, admin keys first; masked system keys are left out. */
  async list(): Promise<TrustedKey[]> {
    const admin = await keyFiles(this.paths.adminDir);
    const adminRel = new Set(admin.map((f) => f.rel));
    const system = (await keyFiles(this.paths.systemDir)).filter((f) => !adminRel.has(f.rel));
    const keys: TrustedKey[] = [];
    for (const [files, source, root] of [[admin, 'admin', this.paths.adminDir], [system, 'system', this.paths.systemDir]] as const) {
      for (const file of files) {
        if (file.empty) continue;
        const path = join(root, file.rel);
        const [fingerprint] = await fingerprintsOf(path, file.fingerprint);
        keys.push({ fingerprint: fingerprint!, prefix: file.prefix, source, path, armored: await readFile(path, 'utf8') });
      }
    }
    return keys;
  }

  /** Keys trusted for image `name`: root keys and keys whose prefix starts the name. */
  async keysFor(name: string): Promise<TrustedKey[]> {
    return (await this.list()).filter((k) => k.prefix === undefined || name.startsWith(k.prefix));
  }

  /**
   * Stops trusting a key everywhere (every prefix and root.d, admin and system; found by
   * the fingerprint of its content, a subkey's or its file name): admin files are removed,
   * system files masked with an empty admin file. Returns the paths changed; throws when
   * the key is not trusted at all.
   */
  async remove(fingerprintText: string): Promise<string[]> {
    const fingerprint = normalizeFingerprint(fingerprintText);
    if (!fingerprint) {
      throw new AgentError({
        code: 'trust.invalid-fingerprint',
        message: 'not a key fingerprint (40 or 64 hex digits)',
        subject: fingerprintText,
        hint: 'Copy the fingerprint from `agentctl trust list`',
      });
    }
    const holds = async (root: string, file: KeyFile): Promise<boolean> =>
      !file.empty && (await fingerprintsOf(join(root, file.rel), file.fingerprint)).includes(fingerprint);
    const changed: string[] = [];
    const admin = await keyFiles(this.paths.adminDir);
    for (const file of admin) {
      if (!(await holds(this.paths.adminDir, file))) continue;
      const path = join(this.paths.adminDir, file.rel);
      await removeFileDurably(path);
      changed.push(path);
    }
    const masked = new Set(admin.filter((f) => f.empty).map((f) => f.rel));
    for (const file of await keyFiles(this.paths.systemDir)) {
      if (masked.has(file.rel) || !(await holds(this.paths.systemDir, file))) continue;
      const path = join(this.paths.adminDir, file.rel);
      await writeFileAtomic(path, '', { mode: 0o644, mkdirs: true });
      changed.push(path);
    }
    if (changed.length === 0) {
      throw new AgentError({
        code: 'trust.key-not-found',
        message: 'no trusted key has this fingerprint',
        subject: fingerprint,
        hint: 'See the trusted keys with `agentctl trust list`',
      });
    }
    return changed;
  }
}

/** Checks the scope a person asked for: exactly one of `--root` and `--prefix P`. */
export function resolveScope(scope: Partial<{ root: boolean; prefix: string }>): TrustScope {
  if (scope.root && scope.prefix !== undefined) {
    throw new AgentError({
      code: 'trust.scope-ambiguous',
      message: 'a key is trusted either for a prefix or as a root key, not both',
      hint: 'Give only one of --prefix PREFIX and --root',
    });
  }
  if (scope.root) return { root: true };
  if (scope.prefix === undefined) {
    throw new AgentError({
      code: 'trust.scope-missing',
      message: 'refusing to trust a key without a scope',
      hint: 'Give --prefix PREFIX to trust the key for images whose name starts with PREFIX, or --root to trust it for every image',
    });
  }
  const problem = prefixProblem(scope.prefix);
  if (problem) {
    throw new AgentError({
      code: 'trust.invalid-prefix',
      message: problem,
      subject: scope.prefix,
      hint: 'A prefix is the start of an image name, e.g. example.com/app',
    });
  }
  return { prefix: scope.prefix };
}
