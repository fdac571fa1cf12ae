/**
 * plan(desired config, previous config, observed host) → the steps that make the host
 * match the config. Pure. Applying a plan and planning again gives no steps: files are
 * written only when their bytes differ, units are restarted only when their files changed
 * (or they are not running and the config says so), and nothing is done to a unit the
 * agent did not write or was never told about.
 *
 * Users are created when missing and never deleted (cloud-init never deletes users);
 * a user that exists keeps its creation-time fields (a note says so), and only a
 * password hash that differs from /etc/shadow is set again.
 *
 * Order: users first (write_files owners and SSH keys may name them); files, hostname and
 * SSH keys (units may use them); stops of units removed from the config and disables
 * while their files still exist; unit files, drop-ins and masks; one daemon reload;
 * enables; last each unit's command, in config order.
 *
 * systemd-networkd files among the units (`*.network`, `*.netdev`, `*.link`) are files, not
 * units: written with the other files, and systemd-networkd restarted (first of the jobs)
 * when one of them changed, as coreos-cloudinit did.
 */
import { utf8Encode } from '../config/encoding.js';
import { isNetworkUnit, NETWORKD_SERVICE, networkUnitPath } from '../config/network-units.js';
import type { HostConfig, Unit, User } from '../config/types.js';
import type { Step, UserCreation } from './steps.js';
import { CONFIG_ORIGIN, withMarker } from './unit-text.js';

export interface ObservedFile {
  content: Uint8Array;
  mode: number;
  uid: number;
  gid: number;
}

export interface ObservedUnit {
  /** The unit file the agent wrote from cloud-config, if any. */
  file?: { runtime: boolean; text: string };
  /** Drop-ins the agent wrote from cloud-config. */
  dropIns: Array<{ name: string; runtime: boolean; text: string }>;
  /** systemd's UnitFileState: enabled, enabled-runtime, disabled, static, masked, masked-runtime, '' … */
  unitFileState: string;
  activeState: string;
}

export interface ObservedAccount {
  /** Its password field in /etc/shadow; absent when it has no shadow entry. */
  passwordHash?: string;
  /** Keys of the agent's block in its authorized_keys. */
  sshKeys: string[];
}

export interface ObservedHost {
  files: Map<string, ObservedFile | undefined>;
  /** Owner strings of write_files resolved to ids; absent when the name is unknown. */
  owners: Map<string, { uid: number; gid: number }>;
  hostname?: string;
  /** The SSH user and the users the config names now or before; undefined: no such user. */
  accounts: Map<string, ObservedAccount | undefined>;
  /** The user whose authorized_keys receive the top-level ssh_authorized_keys. */
  sshUser: string;
  units: Map<string, ObservedUnit>;
}

export interface Plan {
  steps: Step[];
  /** What cannot be done, e.g. an owner that does not exist; the rest is still planned. */
  problems: string[];
  /** What is deliberately left as it is, e.g. creation-time fields of a user that exists. */
  notes: string[];
}

const EMPTY_UNIT: ObservedUnit = { dropIns: [], unitFileState: '', activeState: 'inactive' };

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

const isActive = (u: ObservedUnit): boolean => u.activeState === 'active' || u.activeState === 'reloading' || u.activeState === 'activating';
const isMasked = (u: ObservedUnit): boolean => u.unitFileState.startsWith('masked');
const isEnabled = (u: ObservedUnit): boolean => u.unitFileState.startsWith('enabled');

const CREATION_FIELDS: ReadonlyArray<[keyof User, string]> = [
  ['gecos', 'gecos'], ['homedir', 'homedir'], ['noCreateHome', 'no_create_home'], ['primaryGroup', 'primary_group'],
  ['groups', 'groups'], ['noUserGroup', 'no_user_group'], ['system', 'system'], ['noLogInit', 'no_log_init'], ['shell', 'shell'],
];

/** The creation-time fields a user entry gives (not left out, not false, not empty), by their cloud-config key. */
function givenCreationFields(u: User): string[] {
  return CREATION_FIELDS.filter(([field]) => {
    const v = u[field];
    return Array.isArray(v) ? v.length > 0 : v !== undefined && v !== false;
  }).map(([, key]) => key);
}

/** What useradd needs of a user entry: all but its keys (written later) and origin. */
function creation({ sshAuthorizedKeys: _keys, origin: _origin, ...fields }: User): UserCreation {
  return fields;
}

/** Users to create and passwords to set; returns the names of the users created. */
function planUsers(desired: HostConfig, observed: ObservedHost, plan: Plan): Set<string> {
  const created = new Set<string>();
  for (const u of desired.users) {
    const account = observed.accounts.get(u.name);
    if (!account) {
      plan.steps.push({ kind: 'create-user', user: creation(u) });
      created.add(u.name);
      continue;
    }
    const fields = givenCreationFields(u);
    if (fields.length > 0) plan.notes.push(`user ${u.name} exists: its creation-time fields (${fields.join(', ')}) are left as they are`);
    if (u.passwd !== undefined && u.passwd !== account.passwordHash) plan.steps.push({ kind: 'set-password', user: u.name, hash: u.passwd });
  }
  return created;
}

/**
 * The agent's SSH keys each user should have: the SSH user's from the top level, then each
 * user's own, once each; none for a user only the previous config named.
 */
function wantedKeys(desired: HostConfig, previous: HostConfig | undefined, sshUser: string): Map<string, string[]> {
  const wanted = new Map<string, string[]>([[sshUser, desired.sshAuthorizedKeys]]);
  for (const u of desired.users) wanted.set(u.name, [...new Set([...(wanted.get(u.name) ?? []), ...u.sshAuthorizedKeys])]);
  for (const u of previous?.users ?? []) if (!wanted.has(u.name)) wanted.set(u.name, []);
  return wanted;
}

function planKeys(desired: HostConfig, previous: HostConfig | undefined, observed: ObservedHost, created: Set<string>, plan: Plan): void {
  for (const [user, keys] of wantedKeys(desired, previous, observed.sshUser)) {
    const account = observed.accounts.get(user);
    if (!account && !created.has(user)) {
      if (keys.length > 0) plan.problems.push(`ssh_authorized_keys: user "${user}" does not exist on this host`);
      continue;
    }
    if (keys.join('\n') !== (account?.sshKeys ?? []).join('\n')) plan.steps.push({ kind: 'write-ssh-keys', user, keys });
  }
}

/** The user part of an owner string (`user`, `user:group`). */
const ownerUser = (owner: string): string => owner.split(':', 1)[0]!;

function planFiles(desired: HostConfig, observed: ObservedHost, created: Set<string>, plan: Plan): void {
  for (const f of desired.writeFiles) {
    const current = observed.files.get(f.path);
    let owner: { uid: number; gid: number } | undefined = { uid: 0, gid: 0 };
    if (f.owner !== undefined) {
      owner = observed.owners.get(f.owner);
      if (!owner && !created.has(ownerUser(f.owner))) {
        plan.problems.push(`write_files ${f.path}: owner "${f.owner}" does not exist on this host; create the user or group first`);
        continue;
      }
    }
    // An owner created by this plan has no ids yet: the file is written after it.
    const same = owner && current && sameBytes(current.content, f.content) && (current.mode & 0o7777) === f.permissions
      && current.uid === owner.uid && current.gid === owner.gid;
    if (!same) {
      plan.steps.push({ kind: 'write-file', path: f.path, content: f.content, mode: f.permissions, ...(f.owner !== undefined && { owner: f.owner }) });
    }
  }
  if (desired.hostname !== undefined && desired.hostname !== observed.hostname) {
    plan.steps.push({ kind: 'set-hostname', hostname: desired.hostname });
  }
}

interface UnitChanges {
  stops: Step[];
  disables: Step[];
  files: Step[];
  enables: Step[];
  jobs: Step[];
}

/** Steps for one unit of the config; `changed` says whether its files change. */
function planUnit(u: Unit, prev: Unit | undefined, o: ObservedUnit, out: UnitChanges): void {
  let changed = false;
  const write = (s: Step): void => {
    out.files.push(s);
    changed = true;
  };

  const desiredText = u.content !== undefined && !u.mask ? withMarker(u.content, CONFIG_ORIGIN) : undefined;
  if (o.file && (desiredText === undefined || o.file.runtime !== u.runtime)) {
    write({ kind: 'remove-unit', unit: u.name, runtime: o.file.runtime });
  }
  if (desiredText !== undefined && (o.file?.text !== desiredText || o.file.runtime !== u.runtime)) {
    write({ kind: 'write-unit', unit: u.name, runtime: u.runtime, text: desiredText });
  }

  const wanted = new Map(u.mask ? [] : u.dropIns.map((d) => [d.name, withMarker(d.content, CONFIG_ORIGIN)]));
  for (const d of o.dropIns) {
    if (wanted.get(d.name) === undefined || d.runtime !== u.runtime) write({ kind: 'remove-dropin', unit: u.name, name: d.name, runtime: d.runtime });
  }
  for (const [name, text] of wanted) {
    const have = o.dropIns.find((d) => d.name === name && d.runtime === u.runtime);
    if (have?.text !== text) write({ kind: 'write-dropin', unit: u.name, name, runtime: u.runtime, text });
  }

  if (u.mask && !isMasked(o)) write({ kind: 'mask', unit: u.name, runtime: u.runtime });
  if (!u.mask && isMasked(o) && prev?.mask) write({ kind: 'unmask', unit: u.name, runtime: prev.runtime });

  if (u.enable && !u.mask && !isEnabled(o)) out.enables.push({ kind: 'enable', unit: u.name, runtime: u.runtime });
  if (!u.enable && prev?.enable && isEnabled(o)) out.disables.push({ kind: 'disable', unit: u.name, runtime: prev.runtime });

  const job = jobFor(u, o, changed);
  if (job) out.jobs.push(job);
}

/** The job a unit's `command` needs now, given whether its files changed. */
function jobFor(u: Unit, o: ObservedUnit, changed: boolean): Step | undefined {
  const active = isActive(o);
  const job = (command: Unit['command'] & string, reason: string): Step => ({ kind: 'unit-job', unit: u.name, command, reason });
  switch (u.command) {
    case undefined: return undefined;
    case 'start':
      if (!active) return job('start', 'not running');
      return changed ? job('restart', 'its files changed') : undefined;
    case 'stop':
      return active ? job('stop', 'running') : undefined;
    case 'restart':
    case 'reload-or-restart':
      if (!active) return job(u.command, 'not running');
      return changed ? job(u.command, 'its files changed') : undefined;
    case 'reload':
    case 'try-restart':
    case 'reload-or-try-restart':
      return active && changed ? job(u.command, 'its files changed') : undefined;
  }
}

/** The files of a networkd unit, by path from the host root: its file (if it has content) and drop-ins. */
export function networkUnitFiles(u: Unit): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  if (u.content !== undefined) files.set(networkUnitPath(u.name, u.runtime), utf8Encode(u.content));
  for (const d of u.dropIns) files.set(networkUnitPath(u.name, u.runtime, d.name), utf8Encode(d.content));
  return files;
}

const NETWORK_FILE_MODE = 0o644;

/** networkd files written when their bytes differ; systemd-networkd restarted after a change. */
function planNetworkUnits(units: readonly Unit[], observed: ObservedHost, plan: Plan, out: UnitChanges): void {
  let changed = false;
  for (const u of units) {
    const unused = [u.enable && 'enable', u.mask && 'mask', u.command !== undefined && 'command'].filter((x) => x !== false);
    if (unused.length > 0) {
      plan.notes.push(`${u.name} is a systemd-networkd file: ${unused.join(', ')} does not apply to it (${NETWORKD_SERVICE} is restarted when it changes)`);
    }
    for (const [path, content] of networkUnitFiles(u)) {
      const current = observed.files.get(path);
      if (current && sameBytes(current.content, content) && (current.mode & 0o7777) === NETWORK_FILE_MODE && current.uid === 0 && current.gid === 0) continue;
      plan.steps.push({ kind: 'write-file', path, content, mode: NETWORK_FILE_MODE });
      changed = true;
    }
  }
  if (changed) out.jobs.unshift({ kind: 'unit-job', unit: NETWORKD_SERVICE, command: 'restart', reason: 'its network files changed' });
}

/** Steps that undo a unit the config no longer names (only what the agent did). */
function planRemoval(name: string, prev: Unit | undefined, o: ObservedUnit, out: UnitChanges): void {
  if (isActive(o) && (prev?.command !== undefined || o.file)) {
    out.stops.push({ kind: 'unit-job', unit: name, command: 'stop', reason: 'removed from the config' });
  }
  if (prev?.enable && isEnabled(o)) out.disables.push({ kind: 'disable', unit: name, runtime: prev.runtime });
  if (prev?.mask && isMasked(o)) out.files.push({ kind: 'unmask', unit: name, runtime: prev.runtime });
  for (const d of o.dropIns) out.files.push({ kind: 'remove-dropin', unit: name, name: d.name, runtime: d.runtime });
  if (o.file) out.files.push({ kind: 'remove-unit', unit: name, runtime: o.file.runtime });
}

export function planHostConfig(desired: HostConfig, previous: HostConfig | undefined, observed: ObservedHost): Plan {
  const plan: Plan = { steps: [], problems: [], notes: [] };
  const created = planUsers(desired, observed, plan);
  planFiles(desired, observed, created, plan);
  planKeys(desired, previous, observed, created, plan);

  const systemdUnits = desired.units.filter((u) => !isNetworkUnit(u.name));
  const prevUnits = new Map((previous?.units ?? []).filter((u) => !isNetworkUnit(u.name)).map((u) => [u.name, u]));
  const wantedNames = new Set(systemdUnits.map((u) => u.name));
  const out: UnitChanges = { stops: [], disables: [], files: [], enables: [], jobs: [] };
  planNetworkUnits(desired.units.filter((u) => isNetworkUnit(u.name)), observed, plan, out);
  const removedNames = new Set([...prevUnits.keys(), ...[...observed.units].filter(([, o]) => o.file || o.dropIns.length).map(([n]) => n)]);
  for (const name of [...removedNames].sort()) {
    if (!wantedNames.has(name)) planRemoval(name, prevUnits.get(name), observed.units.get(name) ?? EMPTY_UNIT, out);
  }
  for (const u of systemdUnits) planUnit(u, prevUnits.get(u.name), observed.units.get(u.name) ?? EMPTY_UNIT, out);

  plan.steps.push(...out.stops, ...out.disables, ...out.files);
  if (out.files.length > 0) plan.steps.push({ kind: 'daemon-reload' });
  plan.steps.push(...out.enables, ...out.jobs);
  return plan;
}
