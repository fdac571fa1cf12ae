/**
 * What the host looks like now, as the config planner needs it: the files write_files
 * names, owners resolved, hostname; the SSH user and every user the config names (now or
 * before) as /etc/passwd and /etc/shadow say, with the agent's SSH keys block; and for
 * every unit the config names (now or before) or the agent wrote from cloud-config, its
 * agent-written files, unit file state and active state; networkd files as files.
 */
import { lstat, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isNetworkUnit } from '../../core/config/network-units.js';
import type { HostConfig } from '../../core/config/types.js';
import { networkUnitFiles, type ObservedAccount, type ObservedFile, type ObservedHost, type ObservedUnit } from '../../core/plan/config-plan.js';
import { CONFIG_ORIGIN, markerOf } from '../../core/plan/unit-text.js';
import type { SystemdManager } from '../systemd/manager.js';
import type { UnitFileStore } from '../systemd/unit-files.js';
import type { HostnameStore } from '../hostname.js';
import { readAccounts, readPasswordHashes, resolveOwner, type Accounts } from './accounts.js';
import { readManagedKeys } from './ssh-keys.js';

export interface HostContext {
  systemd: SystemdManager;
  unitFiles: UnitFileStore;
  hostname: HostnameStore;
  /** Root directory of the host's files (`/`, or a sandbox's directory). */
  root: string;
  /** The user whose authorized_keys receive ssh_authorized_keys (`core`). */
  sshUser: string;
}

async function observeAccounts(names: Set<string>, accounts: Accounts, root: string): Promise<Map<string, ObservedAccount | undefined>> {
  const hashes = await readPasswordHashes(root);
  const observed = new Map<string, ObservedAccount | undefined>();
  for (const name of names) {
    const account = accounts.users.get(name);
    const hash = hashes.get(name);
    observed.set(name, account && { ...(hash !== undefined && { passwordHash: hash }), sshKeys: await readManagedKeys(account, root) });
  }
  return observed;
}

async function observeFile(path: string): Promise<ObservedFile | undefined> {
  try {
    const st = await lstat(path);
    if (!st.isFile()) return { content: new Uint8Array(), mode: st.mode, uid: st.uid, gid: st.gid };
    return { content: await readFile(path), mode: st.mode, uid: st.uid, gid: st.gid };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

async function observeUnit(name: string, ctx: HostContext): Promise<ObservedUnit> {
  const [persistent, runtime] = await Promise.all([ctx.unitFiles.read(name), ctx.unitFiles.read(name, true)]);
  const ours = (text: string | undefined): boolean => text !== undefined && markerOf(text) === CONFIG_ORIGIN;
  const file = ours(runtime) ? { runtime: true, text: runtime! } : ours(persistent) ? { runtime: false, text: persistent! } : undefined;
  const dropIns = (await ctx.unitFiles.readDropIns(name)).filter((d) => d.origin === CONFIG_ORIGIN).map(({ name: n, runtime: r, text }) => ({ name: n, runtime: r, text }));
  const [unitFileState, status] = await Promise.all([ctx.systemd.unitFileState(name), ctx.systemd.unitStatus(name)]);
  return { ...(file && { file }), dropIns, unitFileState, activeState: status.activeState };
}

export async function observeHost(desired: HostConfig, previous: HostConfig | undefined, ctx: HostContext): Promise<ObservedHost> {
  const accounts = await readAccounts(ctx.root);
  const files = new Map<string, ObservedFile | undefined>();
  const owners = new Map<string, { uid: number; gid: number }>();
  for (const f of desired.writeFiles) {
    files.set(f.path, await observeFile(join(ctx.root, f.path)));
    if (f.owner !== undefined) {
      const ids = resolveOwner(f.owner, accounts);
      if (ids) owners.set(f.owner, ids);
    }
  }
  for (const u of desired.units.filter((x) => isNetworkUnit(x.name))) {
    for (const path of networkUnitFiles(u).keys()) files.set(path, await observeFile(join(ctx.root, path)));
  }
  const userNames = new Set([ctx.sshUser, ...desired.users.map((u) => u.name), ...(previous?.users ?? []).map((u) => u.name)]);
  const names = new Set([
    ...desired.units.map((u) => u.name),
    ...(previous?.units ?? []).map((u) => u.name),
    ...(await ctx.unitFiles.listManaged()).filter((f) => f.origin === CONFIG_ORIGIN).map((f) => f.name),
  ].filter((name) => !isNetworkUnit(name)));
  const units = new Map<string, ObservedUnit>();
  for (const name of names) units.set(name, await observeUnit(name, ctx));
  const hostname = await ctx.hostname.get();
  return {
    files,
    owners,
    ...(hostname !== undefined && { hostname }),
    accounts: await observeAccounts(userNames, accounts, ctx.root),
    sshUser: ctx.sshUser,
    units,
  };
}
