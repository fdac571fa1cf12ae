/**
 * The few calls of logind's Manager (org.freedesktop.login1) the reboot needs:
 * ListInhibitors, SetWallMessage and Reboot. `isAbsent` tells a bus without logind (the
 * caller falls back to systemd's reboot.target) from a logind that refused.
 */
import { call, DBusCallError, type Bus } from '../systemd/dbus.js';
import type { Inhibitor } from './inhibitors.js';

const DEST = 'org.freedesktop.login1';
const PATH = '/org/freedesktop/login1';
const IFACE = 'org.freedesktop.login1.Manager';

const ABSENT = new Set([
  'org.freedesktop.DBus.Error.ServiceUnknown',
  'org.freedesktop.DBus.Error.NameHasNoOwner',
  'org.freedesktop.DBus.Error.UnknownObject',
  'org.freedesktop.DBus.Error.UnknownInterface',
]);

/** Whether `e` says logind is not on the bus (rather than that it refused). */
export function isAbsent(e: unknown): boolean {
  return e instanceof DBusCallError && ABSENT.has(e.errorName);
}

export class Logind {
  constructor(private readonly bus: Bus) {}

  private call(member: string, signature = '', body: unknown[] = []): Promise<unknown[]> {
    return call(this.bus, { destination: DEST, path: PATH, interface: IFACE, member, signature, body });
  }

  async listInhibitors(): Promise<Inhibitor[]> {
    const [rows] = await this.call('ListInhibitors');
    return (rows as unknown[][]).map(([what, who, why, mode, uid, pid]) => ({
      what: String(what), who: String(who), why: String(why), mode: String(mode), uid: Number(uid), pid: Number(pid),
    }));
  }

  /** The message logind broadcasts (wall) when the reboot starts. */
  async setWallMessage(message: string): Promise<void> {
    await this.call('SetWallMessage', 'sb', [message, true]);
  }

  /** Reboot now; `interactive` false: no polkit prompt. */
  async reboot(): Promise<void> {
    await this.call('Reboot', 'b', [false]);
  }
}
