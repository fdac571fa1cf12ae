/**
 * The SSH keys cloud-config gives (ssh_authorized_keys) live in a block of their own in
 * the user's ~/.ssh/authorized_keys, between marker lines, so keys added by hand stay.
 */
import { mkdir, readFile, chown } from 'node:fs/promises';
import { join } from 'node:path';
import { stageFile, type StagedFile } from '../fs/atomic.js';
import { explainWriteError } from '../fs/disk-full.js';
import type { Account } from './accounts.js';

const BEGIN = '# BEGIN host-agent: ssh_authorized_keys from cloud-config';
const END = '# END host-agent';

export function authorizedKeysPath(user: Account, root: string): string {
  return join(root, user.home, '.ssh/authorized_keys');
}

/** Split a file into the text around the agent's block and the keys inside it. */
export function splitKeysBlock(text: string): { before: string; keys: string[]; after: string } {
  const start = text.indexOf(`${BEGIN}\n`);
  const end = start < 0 ? -1 : text.indexOf(`${END}\n`, start);
  if (start < 0 || end < 0) return { before: text, keys: [], after: '' };
  const keys = text.slice(start + BEGIN.length + 1, end).split('\n').filter(Boolean);
  return { before: text.slice(0, start), keys, after: text.slice(end + END.length + 1) };
}

export function joinKeysBlock(before: string, keys: string[], after: string): string {
  const head = before && !before.endsWith('\n') ? `${before}\n` : before;
  const block = keys.length ? `${BEGIN}\n${keys.join('\n')}\n${END}\n` : '';
  return head + block + after;
}

export async function readManagedKeys(user: Account, root: string): Promise<string[]> {
  const text = await readFile(authorizedKeysPath(user, root), 'utf8').catch(() => '');
  return splitKeysBlock(text).keys;
}

/** The user's new authorized_keys written to its temp (~/.ssh made), put in place by `commit`. */
export async function stageManagedKeys(user: Account, root: string, keys: string[]): Promise<StagedFile> {
  const path = authorizedKeysPath(user, root);
  const sshDir = join(root, user.home, '.ssh');
  try {
    await mkdir(sshDir, { recursive: true, mode: 0o700 });
    await chown(sshDir, user.uid, user.gid);
  } catch (e) {
    throw await explainWriteError(e, sshDir);
  }
  const { before, after } = splitKeysBlock(await readFile(path, 'utf8').catch(() => ''));
  return stageFile(path, joinKeysBlock(before, keys, after), { mode: 0o600, uid: user.uid, gid: user.gid });
}

export async function writeManagedKeys(user: Account, root: string, keys: string[]): Promise<void> {
  await (await stageManagedKeys(user, root, keys)).commit();
}
