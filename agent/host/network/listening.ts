/**
 * The ports the host listens on, from the kernel's socket tables of agentd's network
 * namespace (the host's): TCP sockets in LISTEN and bound UDP sockets, IPv4 and IPv6, as
 * `PORT/tcp` and `PORT/udp` (agent/core/network/ports.ts).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

const TCP_LISTEN = '0A';
const UDP_UNCONNECTED = '07';

/** The local ports of the sockets in `state` in one table (`/proc/net/tcp` format). */
function portsIn(table: string, state: string): number[] {
  return table.split('\n').slice(1).flatMap((line) => {
    const fields = line.trim().split(/\s+/);
    const port = /:([0-9A-F]{4})$/.exec(fields[1] ?? '')?.[1];
    return port !== undefined && fields[3] === state ? [parseInt(port, 16)] : [];
  });
}

export async function listeningPorts(procNet = '/proc/net'): Promise<Set<string>> {
  const read = (name: string): Promise<string> => readFile(join(procNet, name), 'utf8').catch(() => '');
  const [tcp, tcp6, udp, udp6] = await Promise.all(['tcp', 'tcp6', 'udp', 'udp6'].map(read));
  return new Set([
    ...[tcp!, tcp6!].flatMap((t) => portsIn(t, TCP_LISTEN)).map((p) => `${p}/tcp`),
    ...[udp!, udp6!].flatMap((t) => portsIn(t, UDP_UNCONNECTED)).map((p) => `${p}/udp`),
  ]);
}
