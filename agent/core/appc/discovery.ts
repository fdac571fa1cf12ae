/**
 * appc meta discovery, driven here and fetched by the caller: for an image name and its
 * labels, walk the name's prefixes deepest first, fetching `https://PREFIX?ac-discovery=1`
 * (then `http://` only when insecure HTTP is allowed), and read the `ac-discovery`
 * templates or `ac-discovery-pubkeys` URLs that apply to the name. A template is used only
 * when every `{variable}` in it is filled ({name}, {ext} and one per label; `version`
 * defaults to `latest`). The walk stops at the first prefix that yields what is wanted.
 * The caller supplies `get`, so tests feed pages from a map and the host uses real HTTPS.
 * Pure: no I/O of its own.
 */

import { AgentError, describeError } from '../errors.js';
import { DEFAULT_VERSION, type AppRef } from './app-string.js';
import { extractDiscoveryMeta, type DiscoveryMeta } from './meta.js';

export interface HttpResult {
  status: number;
  body: string;
}

export interface DiscoveryOptions {
  /** Fetches a URL; resolves with status and body, rejects on a transport failure. */
  get: (url: string) => Promise<HttpResult>;
  /** Fall back to plain http when https fails (`--insecure-options=http`). */
  insecureHttp?: boolean;
  /** A port added to the host of every discovery URL (tests on loopback). */
  port?: number;
}

export interface AciEndpoint {
  /** Where the image is. */
  aci: string;
  /** Where its detached signature (`.aci.asc`) is. */
  asc: string;
}

export interface FailedAttempt {
  prefix: string;
  error: string;
}

export interface Discovered<T> {
  /** What the first successful prefix gave, in document order. */
  found: T[];
  /** The prefix that gave it. */
  prefix: string;
  /** Prefixes tried before, which failed to load. */
  failures: FailedAttempt[];
}

/** The name's prefixes, deepest first: `a.com/b/c`, `a.com/b`, `a.com`. */
export function discoveryPrefixes(name: string): string[] {
  const parts = name.split('/');
  return parts.map((_, i) => parts.slice(0, parts.length - i).join('/'));
}

/** The discovery URLs for one prefix, in the order they are tried. */
export function discoveryUrls(prefix: string, options: Pick<DiscoveryOptions, 'insecureHttp' | 'port'>): string[] {
  const slash = prefix.indexOf('/');
  const host = slash < 0 ? prefix : prefix.slice(0, slash);
  const path = slash < 0 ? '' : prefix.slice(slash);
  const authority = options.port ? `${host}:${options.port}` : host;
  const schemes = options.insecureHttp ? ['https', 'http'] : ['https'];
  return schemes.map((scheme) => `${scheme}://${authority}${path}?ac-discovery=1`);
}

/** Fills every `{key}` of `template` with `vars[key]`. */
export function fillTemplate(template: string, vars: Readonly<Record<string, string>>): string {
  let out = template;
  for (const [key, value] of Object.entries(vars)) out = out.split(`{${key}}`).join(value);
  return out;
}

/**
 * Fills the template; undefined when a `{…}` is left, as then the template needs a label
 * the request does not have.
 */
export function renderTemplate(template: string, vars: Readonly<Record<string, string>>): string | undefined {
  const out = fillTemplate(template, vars);
  return /\{.*?\}/.test(out) ? undefined : out;
}

function templateVars(app: AppRef): Record<string, string> {
  const vars: Record<string, string> = { name: app.name };
  for (const [key, value] of Object.entries(app.labels)) if (key !== 'name') vars[key] = value;
  if (!vars.version) vars.version = DEFAULT_VERSION;
  return vars;
}

/** The image endpoints a page's meta tags give for `app`. */
export function endpointsFromMeta(meta: readonly DiscoveryMeta[], app: AppRef): AciEndpoint[] {
  const vars = templateVars(app);
  const endpoints: AciEndpoint[] = [];
  for (const m of meta) {
    if (m.name !== 'ac-discovery' || !app.name.startsWith(m.prefix)) continue;
    const uri = fillTemplate(m.uri, vars);
    const aci = renderTemplate(uri, { ext: 'aci' });
    const asc = renderTemplate(uri, { ext: 'aci.asc' });
    if (aci !== undefined && asc !== undefined) endpoints.push({ aci, asc });
  }
  return endpoints;
}

/** The public key URLs a page's meta tags give for `name`. */
export function pubkeysFromMeta(meta: readonly DiscoveryMeta[], name: string): string[] {
  return meta.filter((m) => m.name === 'ac-discovery-pubkeys' && name.startsWith(m.prefix)).map((m) => m.uri);
}

/** Loads the discovery page of one prefix: https, then http when allowed. */
async function loadPage(prefix: string, options: DiscoveryOptions): Promise<string> {
  let lastError = '';
  for (const url of discoveryUrls(prefix, options)) {
    try {
      const res = await options.get(url);
      if (res.status === 200) return res.body;
      lastError = `expected a 200 OK got ${res.status}`;
    } catch (e) {
      lastError = describeError(e);
    }
  }
  throw new Error(lastError);
}

interface Wanted<T> {
  /** What is looked for, in messages. */
  what: string;
  /** The meta tag that gives it. */
  tag: string;
  /** What to do instead when discovery cannot work. */
  otherwise: string;
  pick(meta: DiscoveryMeta[]): T[];
}

async function walk<T>(app: AppRef, options: DiscoveryOptions, wanted: Wanted<T>): Promise<Discovered<T>> {
  const failures: FailedAttempt[] = [];
  for (const prefix of discoveryPrefixes(app.name)) {
    let page: string;
    try {
      page = await loadPage(prefix, options);
    } catch (e) {
      failures.push({ prefix, error: describeError(e) });
      continue;
    }
    const found = wanted.pick(extractDiscoveryMeta(page));
    if (found.length > 0) return { found, prefix, failures };
  }
  const tried = failures.map((f) => `${f.prefix}: ${f.error}`).join('; ');
  throw new AgentError({
    code: 'appc.discovery-failed',
    message: `discovery failed: no ${wanted.what} found${tried ? ` (${tried})` : ''}`,
    subject: app.name,
    hint:
      `Serve <meta name="${wanted.tag}" content="PREFIX URL"> at https://PREFIX?ac-discovery=1 ` +
      `for a prefix of the name, or ${wanted.otherwise}`,
  });
}

/** Discovers where the image `app` (name and labels) and its signature are. */
export function discoverEndpoints(app: AppRef, options: DiscoveryOptions): Promise<Discovered<AciEndpoint>> {
  return walk(app, options, {
    what: 'image',
    tag: 'ac-discovery',
    otherwise: 'give every {variable} of the template as a label, or fetch by file path or URL',
    pick: (meta) => endpointsFromMeta(meta, app),
  });
}

/** Discovers the public key URLs published for the name `app.name`. */
export function discoverPublicKeys(app: AppRef, options: DiscoveryOptions): Promise<Discovered<string>> {
  return walk(app, options, {
    what: 'public key',
    tag: 'ac-discovery-pubkeys',
    otherwise: 'give the key as a file or URL',
    pick: (meta) => pubkeysFromMeta(meta, app.name),
  });
}
