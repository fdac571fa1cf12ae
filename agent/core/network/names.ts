/**
 * The container's /etc/resolv.conf and /etc/hosts on a network of its own: the declared
 * nameservers (`dns:`) or the host's (loopback resolvers such as systemd-resolved's
 * 127.0.0.53 are unreachable from another network namespace, so they are left out, with
 * the host's `search` and `options` lines kept), and its name on its own address.
 * Pure: text in, text out.
 */

/**
 * Where a container's network files live: `<prefix>.resolv.conf` and `.hosts` (both
 * drivers), `.eth0` and `.rules` (the built-in network): `<runDir>/containers/<name>`.
 */
export function containerFilesPrefix(runDir: string, container: string): string {
  return `${runDir}/containers/${container}`;
}

export interface HostResolv {
  nameservers: string[];
  /** `search …` and `options …` lines as written. */
  other: string[];
}

export function parseResolvConf(text: string): HostResolv {
  const nameservers: string[] = [];
  const other: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const m = /^nameserver\s+(\S+)/.exec(line);
    if (m) nameservers.push(m[1]!);
    else if (/^(search|domain|options)\s/.test(line)) other.push(line);
  }
  return { nameservers, other };
}

function isLoopback(address: string): boolean {
  return address.startsWith('127.') || address === '::1';
}

export function containerResolvConf(host: HostResolv, dns: readonly string[]): string {
  const servers = dns.length > 0 ? [...dns] : host.nameservers.filter((s) => !isLoopback(s));
  const other = dns.length > 0 ? [] : host.other;
  return `# Written by host-agent for this container.\n${[...servers.map((s) => `nameserver ${s}`), ...other].map((l) => `${l}\n`).join('')}`;
}

export function containerHosts(name: string, addresses: readonly string[]): string {
  return [
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    ...addresses.map((a) => `${a}\t${name}`),
    '',
  ].join('\n');
}
