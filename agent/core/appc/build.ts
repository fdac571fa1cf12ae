/**
 * The rules of `agentctl image build`, `sign` and `publish`, without I/O: the manifest an
 * image gets from the command line, the order and metadata of its archive entries
 * (actool build's layout, reproducible: entries sorted by name, one fixed mtime, owners
 * 0:0), and where a published image lives so that appc discovery finds it — the
 * `ac-discovery` page of the name and its `NAME-VERSION-OS-ARCH.aci` files, with a
 * `latest` copy, the versions discovery.ts asks for. Pure: no I/O.
 */

import { AgentError } from '../errors.js';
import { parseAppString } from './app-string.js';
import { validateImageManifest, type ImageManifest } from './manifest.js';

/** The modification time of every archive entry (2000-01-01T00:00:00Z), so a build is reproducible. */
export const BUILD_MTIME = new Date(Date.UTC(2000, 0, 1));

/** The version every published image is also copied to; what discovery fetches without a version. */
export const LATEST = 'latest';

export interface BuildRequest {
  name: string;
  version: string;
  os: string;
  arch: string;
  /** The app's command; no app when absent. */
  exec?: string[];
  /** More labels, `key=value`, in the order given. */
  labels?: string[];
}

function usage(message: string, hint: string, subject?: string): AgentError {
  return new AgentError({ code: 'appc.build-invalid', message, hint, ...(subject !== undefined && { subject }) });
}

/** `--exec` as written: a JSON array of strings, or words separated by spaces. */
export function parseExec(text: string): string[] {
  if (text.trimStart().startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (!Array.isArray(parsed) || parsed.length === 0 || !parsed.every((a) => typeof a === 'string')) {
      throw usage(`--exec ${text} is not a JSON array of strings`, 'Write --exec as words ("/bin/httpd -f -p 8080") or as a JSON array (\'["/bin/sh", "-c", "echo hi"]\')');
    }
    return parsed as string[];
  }
  const words = text.trim().split(/\s+/).filter((w) => w !== '');
  if (words.length === 0) throw usage('--exec is empty', 'Give the command the container runs, e.g. --exec "/bin/httpd -f -p 8080"');
  return words;
}

export interface BuiltManifest {
  /** As checked (with the reference's defaults filled in). */
  manifest: ImageManifest;
  /** As written into the archive: only what was given, 2-space indented JSON. */
  text: string;
}

/** The manifest of a new image, checked as any fetched manifest is. */
export function buildManifest(req: BuildRequest): BuiltManifest {
  const labels = [
    { name: 'version', value: req.version },
    { name: 'os', value: req.os },
    { name: 'arch', value: req.arch },
  ];
  for (const text of req.labels ?? []) {
    const eq = text.indexOf('=');
    if (eq <= 0) throw usage(`--label ${text} is not KEY=VALUE`, 'Write labels as --label channel=stable', text);
    const name = text.slice(0, eq);
    if (labels.some((l) => l.name === name)) throw usage(`label ${name} is given twice`, 'Give version, os and arch with --version, --os and --arch, and each other label once', text);
    labels.push({ name, value: text.slice(eq + 1) });
  }
  const json = {
    acKind: 'ImageManifest',
    acVersion: '0.8.11',
    name: req.name,
    labels,
    ...(req.exec && { app: { exec: req.exec, user: '0', group: '0' } }),
  };
  return { manifest: validateImageManifest(json), text: `${JSON.stringify(json, null, 2)}\n` };
}

/** Names of one directory in archive order: bytewise, as `tar --sort=name` orders them. */
export function sortedNames(names: readonly string[]): string[] {
  return [...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** What is published for one image: where its files go in the tree, and its page. */
export interface PublishPlan {
  /** The directory of the name's page and files, relative to the tree (e.g. `hello`, or `''` for a bare host). */
  dir: string;
  /** File names in `dir` of this version and of `latest`, each with `.aci` and `.aci.asc`. */
  versioned: string;
  latest: string;
  /** The page (`index.html` in `dir`), carrying the `ac-discovery` template. */
  page: string;
  /** The template, e.g. `https://example.com/hello/hello-{version}-{os}-{arch}.{ext}`. */
  template: string;
}

function labelOf(m: ImageManifest, name: string): string {
  const value = m.labels.find((l) => l.name === name)?.value;
  if (value === undefined) {
    throw usage(`the image has no ${name} label`, `Rebuild it with agentctl image build … --${name} …: publishing needs version, os and arch`, m.name);
  }
  return value;
}

/** The base of the published URLs: `--base-url`, else `https://HOST[:PORT]` of the name. */
export function defaultBaseUrl(name: string, port?: number): string {
  const host = name.split('/')[0]!;
  return `https://${host}${port ? `:${port}` : ''}`;
}

/**
 * Where `m` is published under `baseUrl` (the URL of the tree's root, serving the name's
 * host): discovery of NAME reads `https://HOST/PATH?ac-discovery=1`, a static server
 * answers it with `PATH/index.html`, whose template points at files beside it.
 */
export function publishPlan(m: ImageManifest, baseUrl: string): PublishPlan {
  parseAppString(m.name);
  const [, ...path] = m.name.split('/');
  const dir = path.join('/');
  const base = path.length ? path[path.length - 1]! : m.name.split('/')[0]!;
  const version = labelOf(m, 'version');
  if (version === LATEST) throw usage('an image versioned "latest" cannot be published', 'Give it a real version (agentctl image build --version 1.0.0)', m.name);
  const os = labelOf(m, 'os');
  const arch = labelOf(m, 'arch');
  const root = baseUrl.replace(/\/+$/, '');
  const template = `${root}/${dir ? `${dir}/` : ''}${base}-{version}-{os}-{arch}.{ext}`;
  const page = `<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<meta name="ac-discovery" content="${escapeAttribute(`${m.name} ${template}`)}">
<title>${escapeAttribute(m.name)}</title>
</head>
<body>appc discovery of ${escapeAttribute(m.name)}</body>
</html>
`;
  return { dir, versioned: `${base}-${version}-${os}-${arch}`, latest: `${base}-${LATEST}-${os}-${arch}`, page, template };
}

function escapeAttribute(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
