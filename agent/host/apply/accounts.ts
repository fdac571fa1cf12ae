/**
 * Users and groups of the host as its /etc/passwd and /etc/group say (under a root
 * directory, so sandboxes and images work too): owner strings of write_files resolved
 * to ids, users' home directories, and the password fields of /etc/shadow.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface Account {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

export interface Accounts {
  users: Map<string, Account>;
  groups: Map<string, number>;
}

async function lines(path: string): Promise<string[][]> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(':'));
}

export async function readAccounts(root: string): Promise<Accounts> {
  const users = new Map<string, Account>();
  for (const [name, , uid, gid, , home] of await lines(join(root, 'etc/passwd'))) {
    if (name && uid && gid) users.set(name, { name, uid: Number(uid), gid: Number(gid), home: home ?? '/' });
  }
  const groups = new Map<string, number>();
  for (const [name, , gid] of await lines(join(root, 'etc/group'))) {
    if (name && gid) groups.set(name, Number(gid));
  }
  return { users, groups };
}

/** Password field of each user in /etc/shadow (read by root only). */
export async function readPasswordHashes(root: string): Promise<Map<string, string>> {
  const hashes = new Map<string, string>();
  for (const [name, hash] of await lines(join(root, 'etc/shadow'))) {
    if (name && hash !== undefined) hashes.set(name, hash);
  }
  return hashes;
}

/** `user`, `user:group`, `uid`, `uid:gid` → ids; undefined when a name is unknown. */
export function resolveOwner(owner: string, accounts: Accounts): { uid: number; gid: number } | undefined {
  const [userPart = '', groupPart] = owner.split(':', 2);
  const numeric = (s: string): number | undefined => (/^\d+$/.test(s) ? Number(s) : undefined);
  const user = accounts.users.get(userPart);
  const uid = numeric(userPart) ?? user?.uid;
  if (uid === undefined) return undefined;
  if (groupPart === undefined || groupPart === '') {
    const gid = user?.gid ?? uid;
    return { uid, gid };
  }
  const gid = numeric(groupPart) ?? accounts.groups.get(groupPart);
  return gid === undefined ? undefined : { uid, gid };
}
