/**
 * Choosing the default network's subnet: the first candidate that overlaps no route of the
 * host (other than the default route and the routes of the default network's own
 * interface, which are ours). Routes come from /proc/net/route. Pure: parsing and arithmetic only.
 */

export interface Route {
  iface: string;
  /** Network address, host byte order. */
  dst: number;
  /** Prefix length. */
  prefix: number;
}

/** The candidates, in order: rkt's default network first, then other private /24s. */
export const SUBNET_CANDIDATES = ['172.16.28.0/24', '172.16.29.0/24', '172.30.28.0/24', '10.88.28.0/24', '192.168.228.0/24'];

function littleEndianHex(hex: string): number {
  const n = Number.parseInt(hex, 16);
  return (((n & 0xff) << 24) | ((n & 0xff00) << 8) | ((n >>> 8) & 0xff00) | (n >>> 24)) >>> 0;
}

function prefixOf(mask: number): number {
  let bits = 0;
  for (let m = mask; m & 0x80000000; m = (m << 1) >>> 0) bits++;
  return bits;
}

/** The routes of /proc/net/route (IPv4). */
export function parseProcRoutes(text: string): Route[] {
  return text.split('\n').slice(1).flatMap((line) => {
    const f = line.trim().split(/\s+/);
    if (f.length < 8 || !/^[0-9A-Fa-f]{8}$/.test(f[1]!) || !/^[0-9A-Fa-f]{8}$/.test(f[7]!)) return [];
    return [{ iface: f[0]!, dst: littleEndianHex(f[1]!), prefix: prefixOf(littleEndianHex(f[7]!)) }];
  });
}

export function parseCidr(cidr: string): { addr: number; prefix: number } | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  if (!m) return undefined;
  const octets = m.slice(1, 5).map(Number);
  const prefix = Number(m[5]);
  if (octets.some((o) => o > 255) || prefix > 32) return undefined;
  return { addr: octets.reduce((a, o) => ((a << 8) | o) >>> 0, 0), prefix };
}

function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

function overlaps(a: { addr: number; prefix: number }, b: { addr: number; prefix: number }): boolean {
  const mask = maskOf(Math.min(a.prefix, b.prefix));
  return ((a.addr & mask) >>> 0) === ((b.addr & mask) >>> 0);
}

/** The first candidate that collides with no route (the default route and `ownBridge`'s excepted). */
export function pickSubnet(routes: Route[], ownBridge: string, candidates: readonly string[] = SUBNET_CANDIDATES): string | undefined {
  const relevant = routes.filter((r) => r.prefix > 0 && r.iface !== ownBridge);
  return candidates.find((c) => {
    const net = parseCidr(c);
    return net !== undefined && !relevant.some((r) => overlaps(net, { addr: r.dst, prefix: r.prefix }));
  });
}

/**
 * The default network's subnet: the one its interface `own` already has a route for (so a
 * route that appears or goes later never moves a network that is up), else pickSubnet's.
 */
export function chooseSubnet(routes: Route[], own: string, candidates: readonly string[] = SUBNET_CANDIDATES): string | undefined {
  const current = routes.find((r) => r.iface === own && r.prefix > 0);
  if (current !== undefined) {
    const addr = (current.dst & maskOf(current.prefix)) >>> 0;
    return `${[24, 16, 8, 0].map((shift) => (addr >>> shift) & 255).join('.')}/${current.prefix}`;
  }
  return pickSubnet(routes, own, candidates);
}
