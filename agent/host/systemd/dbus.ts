/**
 * dbus-next connection and plain method calls, for the adapters of agentd (systemd,
 * logind, hostnamed, our own service). Calls go without introspection: every interface
 * we use is documented and stable, and introspecting each unit object would cost a round
 * trip per unit. D-Bus errors come back as DBusCallError with the error name kept.
 */
import dbus from 'dbus-next';
import type { BusKind } from '../../api/agent1.js';
import type { MethodCall } from '../../api/method-call.js';
import { busAddress } from '../bus/address.js';

export type Bus = dbus.MessageBus;

export class DBusCallError extends Error {
  constructor(readonly errorName: string, message: string, readonly call: string) {
    super(message);
    this.name = 'DBusCallError';
  }
}

/** Connect to the system or session bus; resolves once authenticated (Hello answered). */
export async function connectBus(kind: BusKind, env: NodeJS.ProcessEnv = process.env): Promise<Bus> {
  const bus = kind === 'system'
    ? (env.DBUS_SYSTEM_BUS_ADDRESS ? dbus.sessionBus({ busAddress: busAddress('system', env) }) : dbus.systemBus())
    : dbus.sessionBus({ busAddress: busAddress('session', env) });
  await new Promise<void>((resolve, reject) => {
    const onError = (e: unknown): void => reject(e instanceof Error ? e : new Error(String(e)));
    bus.once('error', onError);
    bus.once('connect', () => {
      bus.removeListener('error', onError);
      resolve();
    });
  });
  return bus;
}

export async function call(bus: Bus, spec: MethodCall): Promise<unknown[]> {
  const name = `${spec.interface}.${spec.member}`;
  try {
    const reply = await bus.call(new dbus.Message({
      destination: spec.destination,
      path: spec.path,
      interface: spec.interface,
      member: spec.member,
      signature: spec.signature ?? '',
      body: spec.body ?? [],
    }));
    return reply?.body ?? [];
  } catch (e) {
    if (e instanceof dbus.DBusError) throw new DBusCallError(e.type, e.text, name);
    throw e;
  }
}

/** Subscribe to signals matching `rule` (a D-Bus match rule); returns an unsubscribe function. */
export async function addMatch(bus: Bus, rule: string): Promise<() => Promise<void>> {
  const dbusCall = (member: string): Promise<unknown[]> => call(bus, {
    destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus',
    member, signature: 's', body: [rule],
  });
  await dbusCall('AddMatch');
  return async () => {
    await dbusCall('RemoveMatch').catch(() => undefined);
  };
}

/** Unwrap a dbus-next Variant (or pass a plain value through). */
export function unwrap(value: unknown): unknown {
  return value instanceof dbus.Variant ? value.value : value;
}

/** Read a numeric property that may arrive as number or bigint. */
export function toNumber(value: unknown): number {
  const v = unwrap(value);
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'number') return v;
  return 0;
}
