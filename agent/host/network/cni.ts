/**
 * A CNI runtime (spec 1.0) as libcni is one: a network list's plugins run with
 * CNI_COMMAND/CNI_CONTAINERID/CNI_NETNS/CNI_IFNAME/CNI_PATH and their configuration on
 * stdin; ADD in order, each getting the previous result; DEL in reverse, each getting the
 * result cached at ADD. The cache (`<runDir>/results/<network>-<container>-<ifname>`) is
 * written atomically before the first ADD (the list only, so a helper killed half-way
 * still knows what to delete) and again with the result; DEL uses the cached list, not
 * the one given, so a network edited while a container runs is torn down as it was set up.
 * Each attachment has a CNI container ID of its own (`<name>-<random>`, kept in the cache),
 * as rkt's pod UUIDs: what a lost attachment left (rules, chains named after the ID) never
 * blocks a later one of the same container.
 */
import { access, constants, readFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { AgentError } from '../../core/errors.js';
import { pluginInput } from '../../core/network/conflist.js';
import type { CniConflist, PortMapping } from '../../core/network/types.js';
import { removeFileDurably, writeFileAtomic } from '../fs/atomic.js';
import { execProgram } from './exec.js';

const PLUGIN_TIMEOUT_MS = 30_000;
/** Plugins run iptables and friends from sbin, which a user manager's PATH may lack. */
const PLUGIN_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface CniAttachmentKey {
  /** The container's name: the cache file's name. */
  container: string;
  ifname: string;
  /** Empty on a DEL whose namespace is already gone. */
  netns: string;
}

interface CacheEntry {
  kind: 'hostAgentCniCacheV1';
  containerId: string;
  ifName: string;
  netns: string;
  config: CniConflist;
  portMappings: PortMapping[];
  result?: unknown;
}

export class CniRunner {
  constructor(private readonly opts: { cniPath: string[]; runDir: string }) {}

  cacheFile(network: string, key: { container: string; ifname: string }): string {
    return join(this.opts.runDir, 'results', `${network}-${key.container}-${key.ifname}`);
  }

  async cached(network: string, key: { container: string; ifname: string }): Promise<CacheEntry | undefined> {
    const text = await readFile(this.cacheFile(network, key), 'utf8').catch(() => undefined);
    return text === undefined ? undefined : JSON.parse(text) as CacheEntry;
  }

  /** ADD every plugin of `list` in order; returns the last result (also cached). */
  async add(list: CniConflist, key: CniAttachmentKey, portMappings: PortMapping[]): Promise<unknown> {
    const file = this.cacheFile(list.name, key);
    const containerId = `${key.container}-${randomBytes(6).toString('hex')}`;
    const entry: CacheEntry = { kind: 'hostAgentCniCacheV1', containerId, ifName: key.ifname, netns: key.netns, config: list, portMappings };
    await writeFileAtomic(file, JSON.stringify(entry), { mkdirs: true, mode: 0o600 });
    let result: unknown;
    for (const plugin of list.plugins) {
      result = await this.invoke('ADD', list, plugin.type, pluginInput(list, plugin, { portMappings }, result), key, containerId);
    }
    await writeFileAtomic(file, JSON.stringify({ ...entry, result }), { mode: 0o600 });
    return result;
  }

  /**
   * DEL every plugin of the cached list (or of `list` when nothing is cached) in reverse,
   * then forget the cache. Every plugin is asked even when one fails; the first failure
   * is thrown at the end, and the cache is kept so a later DEL tries again.
   */
  async del(network: string, key: CniAttachmentKey, list?: CniConflist): Promise<void> {
    const cached = await this.cached(network, key);
    const config = cached?.config ?? list;
    if (config === undefined) return;
    let first: unknown;
    for (const plugin of [...config.plugins].reverse()) {
      const input = pluginInput(config, plugin, { portMappings: cached?.portMappings ?? [] }, cached?.result);
      await this.invoke('DEL', config, plugin.type, input, key, cached?.containerId ?? key.container).catch((e: unknown) => { first ??= e; });
    }
    if (first !== undefined) throw first;
    await removeFileDurably(this.cacheFile(network, key));
  }

  private async invoke(command: 'ADD' | 'DEL', list: CniConflist, type: string, input: Record<string, unknown>, key: CniAttachmentKey, containerId: string): Promise<unknown> {
    const program = await this.find(type);
    const env = {
      PATH: PLUGIN_PATH,
      CNI_COMMAND: command,
      CNI_CONTAINERID: containerId,
      CNI_NETNS: key.netns,
      CNI_IFNAME: key.ifname,
      CNI_PATH: this.opts.cniPath.join(':'),
    };
    const out = await execProgram(program, [], { env, stdin: JSON.stringify(input), timeoutMs: PLUGIN_TIMEOUT_MS });
    if (out.code === 0) return command === 'ADD' ? JSON.parse(out.stdout) : undefined;
    let msg = out.stderr.trim() || `exit status ${out.code}`;
    try {
      const err = JSON.parse(out.stdout) as { code?: number; msg?: string; details?: string };
      if (err.msg) msg = `${err.msg}${err.details ? `: ${err.details}` : ''} (CNI error ${err.code})`;
    } catch { /* not a CNI error document */ }
    throw new AgentError({
      code: 'container.network-plugin-failed',
      message: `CNI plugin ${type} failed on ${command} for network ${list.name}: ${msg}`,
      subject: `container ${key.container}`,
      hint: 'Check the network\'s plugin configuration (host-agent.networks) and that containernetworking-plugins is installed',
    });
  }

  private async find(type: string): Promise<string> {
    for (const dir of this.opts.cniPath) {
      const path = join(dir, type);
      if (await access(path, constants.X_OK).then(() => true, () => false)) return path;
    }
    throw new AgentError({
      code: 'container.network-plugin-missing',
      message: `CNI plugin ${type} is not in ${this.opts.cniPath.join(', ')}`,
      hint: 'Install containernetworking-plugins (apt) or put the plugin in the CNI path',
    });
  }
}
