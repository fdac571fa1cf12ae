/**
 * The steps that bring a host to its configuration, as data: planned by pure code,
 * shown by `agentctl config plan`, executed one by one by the apply executor.
 */
import type { UnitCommand, User } from '../config/types.js';

/** What `useradd` is told when the agent creates a user: cloud-config's creation-time fields. */
export type UserCreation = Pick<User, 'name' | 'passwd' | 'gecos' | 'homedir' | 'noCreateHome' | 'primaryGroup' | 'groups' | 'noUserGroup' | 'system' | 'noLogInit' | 'shell'>;

export type Step =
  | { kind: 'write-file'; path: string; content: Uint8Array; mode: number; owner?: string }
  | { kind: 'set-hostname'; hostname: string }
  | { kind: 'create-user'; user: UserCreation }
  /** `hash` is a crypt(3) hash; never shown. */
  | { kind: 'set-password'; user: string; hash: string }
  | { kind: 'write-ssh-keys'; user: string; keys: string[] }
  | { kind: 'write-unit'; unit: string; runtime: boolean; text: string }
  | { kind: 'remove-unit'; unit: string; runtime: boolean }
  | { kind: 'write-dropin'; unit: string; name: string; runtime: boolean; text: string }
  | { kind: 'remove-dropin'; unit: string; name: string; runtime: boolean }
  | { kind: 'mask'; unit: string; runtime: boolean }
  | { kind: 'unmask'; unit: string; runtime: boolean }
  | { kind: 'daemon-reload' }
  | { kind: 'enable'; unit: string; runtime: boolean }
  | { kind: 'disable'; unit: string; runtime: boolean }
  | { kind: 'unit-job'; unit: string; command: UnitCommand | 'stop'; reason: string };

export type StepKind = Step['kind'];

/** One line for a person, as `agentctl config plan` prints it. */
export function describeStep(step: Step): string {
  const where = (runtime: boolean): string => (runtime ? ' (runtime)' : '');
  switch (step.kind) {
    case 'write-file': return `write ${step.path} (${step.content.length} bytes, mode ${step.mode.toString(8).padStart(4, '0')}${step.owner ? `, owner ${step.owner}` : ''})`;
    case 'set-hostname': return `set the hostname to ${step.hostname}`;
    case 'create-user': return `create user ${step.user.name}${creationDetails(step.user)}`;
    case 'set-password': return `set the password of ${step.user} (hash from cloud-config)`;
    case 'write-ssh-keys': return step.keys.length > 0
      ? `write ${step.keys.length} SSH authorized key(s) for ${step.user}`
      : `remove the agent's SSH authorized keys of ${step.user}`;
    case 'write-unit': return `write unit ${step.unit}${where(step.runtime)}`;
    case 'remove-unit': return `remove unit ${step.unit}${where(step.runtime)}`;
    case 'write-dropin': return `write drop-in ${step.unit}.d/${step.name}${where(step.runtime)}`;
    case 'remove-dropin': return `remove drop-in ${step.unit}.d/${step.name}${where(step.runtime)}`;
    case 'mask': return `mask ${step.unit}${where(step.runtime)}`;
    case 'unmask': return `unmask ${step.unit}${where(step.runtime)}`;
    case 'daemon-reload': return 'reload systemd';
    case 'enable': return `enable ${step.unit}${where(step.runtime)}`;
    case 'disable': return `disable ${step.unit}${where(step.runtime)}`;
    case 'unit-job': return `${step.command} ${step.unit} (${step.reason})`;
  }
}

/** The creation-time fields of a new user, for the plan line; never the password hash. */
function creationDetails(u: UserCreation): string {
  const parts = [
    u.system && 'system account',
    u.gecos !== undefined && `comment "${u.gecos}"`,
    u.homedir !== undefined && `home ${u.homedir}`,
    u.noCreateHome && 'no home directory created',
    u.primaryGroup !== undefined && `primary group ${u.primaryGroup}`,
    u.noUserGroup && 'no user group',
    u.groups.length > 0 && `groups ${u.groups.join(',')}`,
    u.shell !== undefined && `shell ${u.shell}`,
    u.passwd !== undefined ? 'password from cloud-config' : 'no password (SSH keys only)',
  ].filter((p): p is string => typeof p === 'string');
  return ` (${parts.join(', ')})`;
}
