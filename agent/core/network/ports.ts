/**
 * Who holds a host port: the forwards of other containers (declared, or one-off runs) and
 * the sockets the host itself listens on. A forward on a container network is a DNAT rule
 * that takes the port's traffic, the host's loopback included, from whatever listens there
 * (a container forwarding 2379 would receive what etcd's clients send to 127.0.0.1:2379),
 * so such a port is refused with who holds it and what to do. Also `HOST:CONTAINER[/PROTO]`
 * as `agentctl run -p` takes it. Pure: no I/O.
 */
import { AgentError } from '../errors.js';

export interface HostPort {
  host: number;
  protocol: 'tcp' | 'udp';
}

/** A host port forwarded by a container. */
export interface PortHolder extends HostPort {
  container: string;
}

/** `8080/tcp`: how ports are compared and named. */
export function portKey(p: HostPort): string {
  return `${p.host}/${p.protocol}`;
}

/**
 * The error for the first of `ports` (of `container`) that another container forwards, or
 * that a socket of the host listens on (`listening`: portKey values); undefined when none.
 */
export function portConflict(container: string, ports: readonly HostPort[], held: readonly PortHolder[], listening: ReadonlySet<string>): AgentError | undefined {
  for (const p of ports) {
    const key = portKey(p);
    const other = held.find((h) => h.container !== container && portKey(h) === key);
    if (other) {
      return new AgentError({
        code: 'container.port-taken',
        message: `host port ${key} is already forwarded by container ${other.container}`,
        subject: `container ${container}`,
        hint: `Give ${container} or ${other.container} another host port (ports: [{host: …, container: …}], agentctl run -p HOST:CONTAINER), or remove ${other.container}`,
      });
    }
    if (listening.has(key)) {
      return new AgentError({
        code: 'container.port-taken',
        message: `host port ${key} is in use on this host (a service listens on it); a forward would take its traffic`,
        subject: `container ${container}`,
        hint: `Give ${container} another host port, or stop what listens on it (ss -lntup 'sport = :${p.host}' names it)`,
      });
    }
  }
  return undefined;
}

/** `-p HOST:CONTAINER[/tcp|/udp]` (`-p PORT`: the same port inside), or a message saying what is wrong. */
export function parsePublish(text: string): { host: number; container: number; protocol: 'tcp' | 'udp' } | string {
  const m = /^(\d{1,5})(?::(\d{1,5}))?(?:\/(tcp|udp))?$/.exec(text);
  const host = Number(m?.[1]);
  const container = Number(m?.[2] ?? m?.[1]);
  if (!m || host < 1 || host > 65535 || container < 1 || container > 65535) {
    return `invalid port "${text}": use HOST:CONTAINER[/tcp|/udp] with ports from 1 to 65535, e.g. 8080:80`;
  }
  return { host, container, protocol: (m[3] ?? 'tcp') as 'tcp' | 'udp' };
}
