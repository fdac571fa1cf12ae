/**
 * The host's static hostname: through systemd-hostnamed's D-Bus API when the agent runs
 * on the real host's system bus and hostnamed answers, else in <root>/etc/hostname.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from './fs/atomic.js';
import { call, unwrap, type Bus } from './systemd/dbus.js';

const HOSTNAMED = { destination: 'org.freedesktop.hostname1', path: '/org/freedesktop/hostname1' };

export interface HostnameStore {
  get(): Promise<string | undefined>;
  set(hostname: string): Promise<void>;
}

export function fileHostname(root: string): HostnameStore {
  const path = join(root, 'etc/hostname');
  return {
    get: async () => (await readFile(path, 'utf8').catch(() => '')).trim() || undefined,
    set: (hostname) => writeFileAtomic(path, `${hostname}\n`, { mode: 0o644, mkdirs: true }),
  };
}

export function hostnamedHostname(bus: Bus): HostnameStore {
  return {
    get: async () => {
      const [v] = await call(bus, { ...HOSTNAMED, interface: 'org.freedesktop.DBus.Properties', member: 'Get', signature: 'ss', body: ['org.freedesktop.hostname1', 'StaticHostname'] });
      return String(unwrap(v)) || undefined;
    },
    set: async (hostname) => {
      await call(bus, { ...HOSTNAMED, interface: 'org.freedesktop.hostname1', member: 'SetStaticHostname', signature: 'sb', body: [hostname, false] });
    },
  };
}

/** hostnamed when it answers on `bus`, else the file under `root`. */
export async function chooseHostnameStore(bus: Bus | undefined, root: string): Promise<HostnameStore> {
  if (bus && root === '/') {
    const viaDbus = hostnamedHostname(bus);
    try {
      await viaDbus.get();
      return viaDbus;
    } catch {
      // hostnamed is not installed or not reachable: fall back to the file
    }
  }
  return fileHostname(root);
}
