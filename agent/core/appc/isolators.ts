/**
 * Isolators of apps and pods: the value rules of every isolator type the appc spec 0.8.11
 * defines (resource/*, os/linux/*, os/unix/sysctl) and, for an app's set, the reference's
 * rules on unknown types, repeated types and conflicting types. Values are kept as given.
 * Pure: no I/O.
 */

import { readAcIdentifier } from './names.js';
import { parseQuantity } from './quantity.js';
import {
  at,
  invalid,
  isAbsent,
  quote,
  readBool,
  readFields,
  readInt,
  readObject,
  readStringArray,
  readStringMap,
  readString,
} from './json.js';

export interface Isolator {
  name: string;
  value: unknown;
}

interface IsolatorRule {
  /** Checks the value; `path` names the isolator's `value` field. */
  check(value: unknown, path: string): void;
  /** Whether a set may hold this type more than once. */
  multiple: boolean;
  /** Types that may not appear in the same set. */
  conflicts?: readonly string[];
}

/** A quantity, written as a string or, as the reference also accepts, a number. */
function readQuantity(value: unknown, path: string): void {
  const text = typeof value === 'number' ? String(value) : readString(value, path);
  const q = parseQuantity(text.trim());
  if (typeof q === 'string') invalid(path, q);
}

/** `{default, request, limit}`; `defaultRequired` for the types only settable by default. */
function resource(defaultRequired: boolean): IsolatorRule {
  return {
    multiple: true,
    check(value, path) {
      let isDefault = false;
      let hasRequest = false;
      readFields(value, path, {
        default: (v, p) => {
          isDefault = readBool(v, p);
        },
        request: (v, p) => {
          readQuantity(v, p);
          hasRequest = true;
        },
        limit: readQuantity,
      });
      if (defaultRequired && !isDefault) invalid(at(path, 'default'), 'default must be true');
      if (defaultRequired && hasRequest) invalid(at(path, 'request'), 'request not supported by this resource, must be empty');
      if (!defaultRequired && isDefault) invalid(at(path, 'default'), 'default must be false');
    },
  };
}

const capabilities: IsolatorRule = {
  multiple: true,
  check(value, path) {
    const set = readStringArray(readObject(value, path).set, at(path, 'set'));
    if (set.length === 0) invalid(at(path, 'set'), 'set must be non-empty');
  },
};

function seccomp(conflict: string): IsolatorRule {
  return {
    multiple: false,
    conflicts: [conflict],
    check(value, path) {
      const o = readObject(value, path);
      const set = readStringArray(o.set, at(path, 'set'));
      const errno = readString(o.errno, at(path, 'errno'));
      if (set.length === 0) invalid(at(path, 'set'), 'set must be non-empty');
      if (errno === '') return;
      if (!errno.startsWith('E')) invalid(at(path, 'errno'), `errno must start with an 'E' character, got ${errno}`);
      if (!/^[\p{Lu}\p{N}]*$/u.test(errno)) {
        invalid(at(path, 'errno'), `errno can only contain upper case or numeric characters, got ${errno}`);
      }
    },
  };
}

function boundedInt(name: string, min: number, max: number): IsolatorRule {
  return {
    multiple: false,
    check(value, path) {
      const n = readInt(value, path);
      if (n < min || n > max) invalid(path, `${name} must be between ${min} and ${max}, got ${n}`);
    },
  };
}

const selinuxContext: IsolatorRule = {
  multiple: false,
  check(value, path) {
    const o = readObject(value, path);
    for (const field of ['user', 'role', 'type', 'level'] as const) {
      const s = readString(o[field], at(path, field));
      if (s === '' || (field !== 'level' && s.includes(':'))) invalid(at(path, field), `invalid ${field} value ${quote(s)}`);
    }
  },
};

const RULES: Readonly<Record<string, IsolatorRule>> = {
  'resource/block-bandwidth': resource(true),
  'resource/block-iops': resource(true),
  'resource/cpu': resource(false),
  'resource/memory': resource(false),
  'resource/network-bandwidth': resource(true),
  'os/linux/capabilities-retain-set': capabilities,
  'os/linux/capabilities-remove-set': capabilities,
  'os/linux/no-new-privileges': { multiple: true, check: readBool },
  'os/linux/seccomp-remove-set': seccomp('os/linux/seccomp-retain-set'),
  'os/linux/seccomp-retain-set': seccomp('os/linux/seccomp-remove-set'),
  'os/linux/oom-score-adj': boundedInt('os/linux/oom-score-adj', -1000, 1000),
  'os/linux/cpu-shares': boundedInt('os/linux/cpu-shares', 2, 262144),
  'os/linux/selinux-context': selinuxContext,
  'os/linux/apparmor-profile': {
    multiple: false,
    check(value, path) {
      const profile = readString(readObject(value, path).profile, at(path, 'profile'));
      if (profile === '') invalid(at(path, 'profile'), `invalid profile value ${quote(profile)}`);
    },
  },
  'os/unix/sysctl': { multiple: false, check: readStringMap },
};

/** True when the spec defines the isolator type `name`. */
export function isKnownIsolator(name: string): boolean {
  return Object.hasOwn(RULES, name);
}

/** Reads one isolator; a known type must carry a valid value, an unknown one is kept. */
export function readIsolator(value: unknown, path: string): Isolator {
  let name = '';
  let raw: unknown;
  readFields(value, path, {
    name: (v, p) => {
      name = readAcIdentifier(v, p);
    },
    value: (v) => {
      raw = v;
    },
  });
  if (isKnownIsolator(name)) {
    if (isAbsent(raw)) invalid(at(path, 'value'), `value of isolator ${name} must be set`);
    RULES[name].check(raw, at(path, 'value'));
  }
  return { name, value: raw };
}

/**
 * The rules on an app's isolator set: every type known, a type repeated only when it
 * allows it, no two conflicting types.
 */
export function checkIsolatorSet(isolators: readonly Isolator[], path: string): void {
  const seen = new Set<string>();
  isolators.forEach((isolator, i) => {
    const where = at(path, i);
    if (!isKnownIsolator(isolator.name)) invalid(where, `invalid isolator: unknown type ${quote(isolator.name)}`);
    const rule = RULES[isolator.name];
    if (seen.has(isolator.name) && !rule.multiple) {
      invalid(where, `isolators set contains too many instances of type ${isolator.name}`);
    }
    if (rule.conflicts?.some((c) => seen.has(c))) invalid(where, 'isolators set contains incompatible types');
    seen.add(isolator.name);
  });
}
