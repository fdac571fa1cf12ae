/**
 * Fetches publishers' armored public keys: from a URL, or for an image name through appc
 * discovery (`ac-discovery-pubkeys`), for `agentctl trust` to show their fingerprints.
 * Fetching a key trusts nothing: the caller asks the person, then calls Keystore.add.
 */
import type { AppRef } from '../../core/appc/app-string.js';
import { discoverPublicKeys } from '../../core/appc/discovery.js';
import { expectOk, httpGet, pageGetter, readText, type HttpOptions } from '../net/http.js';
import { parsePublicKey, type ParsedKey } from './keys.js';

/** The key served at `url`, parsed (fingerprint, user IDs, armored text). */
export async function fetchArmoredKey(url: string, options: HttpOptions = {}): Promise<ParsedKey> {
  const res = await httpGet(url, options);
  expectOk(res, 'public key', 'Check the key address the publisher gave, or trust a key file instead');
  return parsePublicKey(await readText(res, 1 << 20), url);
}

export interface DiscoveredKey extends ParsedKey {
  /** Where the key was fetched from. */
  url: string;
}

/** Discovers and fetches the keys published for `app.name` (https first; http only when allowed). */
export async function discoverKeys(app: AppRef, options: HttpOptions & { discoveryPort?: number } = {}): Promise<DiscoveredKey[]> {
  const { discoveryPort, ...http } = options;
  const found = await discoverPublicKeys(app, {
    get: pageGetter(http),
    insecureHttp: http.allowHttp ?? false,
    ...(discoveryPort !== undefined && { port: discoveryPort }),
  });
  const keys: DiscoveredKey[] = [];
  for (const url of found.found) keys.push({ ...(await fetchArmoredKey(url, http)), url });
  return keys;
}
