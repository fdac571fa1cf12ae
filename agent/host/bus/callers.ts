/**
 * Who is calling: the uid and groups of a bus connection (the bus driver's
 * GetConnectionCredentials, asked once per unique name and forgotten when the name goes
 * away) and what that caller may do. Root and the agent's own user may change things and
 * read everything; members of the read group (agentd --read-group) read everything;
 * everyone else reads states only (agent/api/redact.ts). When the bus cannot say, the
 * caller is treated as unprivileged.
 */
import { readFile } from 'node:fs/promises';
import dbus from 'dbus-next';
import { AgentError } from '../../core/errors.js';
import { addMatch, call, toNumber, unwrap, type Bus } from '../systemd/dbus.js';

export interface Caller {
  uid: number | undefined;
  /** Root or the agent's own user: root-only methods are allowed. */
  mayChange: boolean;
  /** Sees output and environment values. */
  readsSecrets: boolean;
}

const DRIVER = { destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus' };

export class Callers {
  private readonly cache = new Map<string, Promise<Caller>>();
  private unsubscribe: (() => Promise<void>) | undefined;
  private readonly onMessage = (msg: dbus.Message): void => {
    if (msg.type !== dbus.MessageType.SIGNAL || msg.member !== 'NameOwnerChanged' || msg.sender !== 'org.freedesktop.DBus') return;
    const [name, , newOwner] = msg.body as [string, string, string];
    if (newOwner === '') this.cache.delete(name);
  };

  constructor(private readonly bus: Bus, private readonly readGid: number | undefined, private readonly agentUid = process.getuid?.()) {}

  /** Follow NameOwnerChanged so that a departed connection's entry is dropped. */
  async start(): Promise<void> {
    this.bus.on('message', this.onMessage);
    this.unsubscribe = await addMatch(this.bus, "type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',member='NameOwnerChanged'");
  }

  async stop(): Promise<void> {
    this.bus.removeListener('message', this.onMessage);
    await this.unsubscribe?.();
    this.cache.clear();
  }

  of(sender: string): Promise<Caller> {
    let caller = this.cache.get(sender);
    if (!caller) {
      caller = this.lookUp(sender);
      this.cache.set(sender, caller);
    }
    return caller;
  }

  /** Cached entries (tests: entries go away with their connections). */
  get size(): number {
    return this.cache.size;
  }

  private async lookUp(sender: string): Promise<Caller> {
    let credentials: Record<string, unknown>;
    try {
      [credentials] = await call(this.bus, { ...DRIVER, member: 'GetConnectionCredentials', signature: 's', body: [sender] }) as [Record<string, unknown>];
    } catch {
      this.cache.delete(sender);
      return { uid: undefined, mayChange: false, readsSecrets: false };
    }
    const uid = credentials.UnixUserID === undefined ? undefined : toNumber(credentials.UnixUserID);
    const groups = (unwrap(credentials.UnixGroupIDs) as unknown[] | undefined ?? []).map(toNumber);
    const mayChange = uid === 0 || (uid !== undefined && uid === this.agentUid);
    return { uid, mayChange, readsSecrets: mayChange || (this.readGid !== undefined && groups.includes(this.readGid)) };
  }
}

/** The gid of `group` (a name in /etc/group, or a number). */
export async function resolveGroup(group: string, groupFile = '/etc/group'): Promise<number> {
  if (/^\d+$/.test(group)) return Number(group);
  const text = await readFile(groupFile, 'utf8').catch(() => '');
  for (const line of text.split('\n')) {
    const [name, , gid] = line.split(':');
    if (name === group && gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
  }
  throw new AgentError({
    code: 'agent.usage', message: `--read-group ${group}: no such group in ${groupFile}`, subject: group,
    hint: 'Create the group (groupadd) or give its numeric gid',
  });
}
