/**
 * Textual IP addresses (IPv4 dotted quads and IPv6 with `::` and an embedded IPv4 tail),
 * accepted as Go's net.ParseIP accepts them, for a pod's exposed `hostIP`. Pure: no I/O.
 */

const IPV4 = /^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$/;
const GROUP = /^[0-9A-Fa-f]{1,4}$/;

function groupCount(part: string): number | undefined {
  if (part === '') return 0;
  const groups = part.split(':');
  const last = groups[groups.length - 1];
  const tail = IPV4.test(last) ? 2 : undefined;
  const heads = tail ? groups.slice(0, -1) : groups;
  if (!heads.every((g) => GROUP.test(g))) return undefined;
  return heads.length + (tail ?? 0);
}

function isIPv6(text: string): boolean {
  const halves = text.split('::');
  if (halves.length > 2) return false;
  if (halves.length === 2 && IPV4.test(halves[0].split(':').pop() ?? '')) return false;
  const counts = halves.map(groupCount);
  if (counts.some((c) => c === undefined)) return false;
  const total = (counts as number[]).reduce((a, b) => a + b, 0);
  return halves.length === 2 ? total < 8 : total === 8;
}

/** True when `text` is an IPv4 or IPv6 address. */
export function isIpAddress(text: string): boolean {
  return IPV4.test(text) || isIPv6(text);
}
