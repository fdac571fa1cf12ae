/**
 * Resource limits and the image's other appc isolators, as unit properties (applied by
 * systemd to the whole unit, either isolation) and systemd-nspawn options, with the
 * payload's capability set (./capabilities.ts). The spec's memory and cpu replace the
 * image's resource/memory and resource/cpu limits. An isolator with no systemd equivalent
 * is not applied and yields a warning. Pure: no I/O.
 */
import { parseQuantity } from '../appc/quantity.js';
import type { Isolator } from '../appc/isolators.js';
import { capabilitySet, nspawnCapabilityArgs } from './capabilities.js';
import type { ResolvedContainer } from './spec.js';

export interface Limits {
  /** `[key, value]` lines of [Service], values already in unit syntax. */
  properties: Array<[string, string]>;
  /** Extra systemd-nspawn arguments (unquoted words), the capability options first. */
  nspawnArgs: string[];
  /** Extra settings for a fly unit, values in unit syntax; `CapabilityBoundingSet=` first
   *  (empty: no capability at all). */
  flyProperties: Array<[string, string]>;
  memoryBytes?: number;
  cpuPercent?: number;
  warnings: string[];
}

const SYSCALL = /^@?[a-z0-9_]+$/;
const ERRNO = /^E[A-Z0-9]+$/;

function resourceLimit(isolators: readonly Isolator[], name: string): number | undefined {
  const iso = isolators.find((i) => i.name === name);
  const limit = (iso?.value as { limit?: unknown } | undefined)?.limit;
  if (limit === undefined) return undefined;
  const q = parseQuantity(String(limit).trim());
  return typeof q === 'number' ? q : undefined;
}

function names(value: unknown, shape: RegExp): string[] | undefined {
  const set = (value as { set?: unknown }).set;
  if (!Array.isArray(set) || !set.every((s): s is string => typeof s === 'string' && shape.test(s))) return undefined;
  return set;
}

export function limitsOf(c: ResolvedContainer): Limits {
  const caps = capabilitySet(c.isolators);
  const out: Limits = {
    properties: [],
    nspawnArgs: nspawnCapabilityArgs(caps.set),
    flyProperties: [['CapabilityBoundingSet', caps.set.join(' ')]],
    warnings: caps.warnings,
  };
  const memory = c.memoryBytes ?? resourceLimit(c.isolators, 'resource/memory');
  const cpuCores = resourceLimit(c.isolators, 'resource/cpu');
  const cpu = c.cpuPercent ?? (cpuCores === undefined ? undefined : cpuCores * 100);
  if (memory !== undefined) {
    out.memoryBytes = Math.floor(memory);
    out.properties.push(['MemoryMax', String(out.memoryBytes)]);
  }
  if (cpu !== undefined) {
    out.cpuPercent = Math.max(1, Math.round(cpu));
    out.properties.push(['CPUQuota', `${out.cpuPercent}%`]); // not specifier-expanded by systemd
  }
  for (const iso of c.isolators) {
    const skip = (why: string): void => {
      out.warnings.push(`isolator ${iso.name} of the image is not applied: ${why}`);
    };
    switch (iso.name) {
      case 'resource/memory':
      case 'resource/cpu':
        break;
      case 'os/linux/cpu-shares':
        out.properties.push(['CPUWeight', String(Math.min(10000, Math.max(1, Math.round((Number(iso.value) * 100) / 1024))))]);
        break;
      case 'os/linux/oom-score-adj':
        out.properties.push(['OOMScoreAdjust', String(Number(iso.value))]);
        break;
      case 'os/linux/no-new-privileges':
        if (iso.value === true) out.nspawnArgs.push('--no-new-privileges=yes');
        break;
      case 'os/linux/capabilities-retain-set':
      case 'os/linux/capabilities-remove-set':
        break; // ./capabilities.ts
      case 'os/linux/seccomp-remove-set':
      case 'os/linux/seccomp-retain-set': {
        const calls = names(iso.value, SYSCALL);
        const errno = String((iso.value as { errno?: unknown }).errno ?? '');
        if (!calls || (errno !== '' && !ERRNO.test(errno))) {
          skip('system call names must be lower-case identifiers and errno an E… name');
          break;
        }
        const filter = `${iso.name.endsWith('remove-set') ? '~' : ''}${calls.join(' ')}`;
        out.nspawnArgs.push(`--system-call-filter=${filter}`);
        out.flyProperties.push(['SystemCallFilter', filter]);
        if (errno !== '') out.flyProperties.push(['SystemCallErrorNumber', errno]);
        break;
      }
      default:
        skip('systemd has no equivalent property');
    }
  }
  return out;
}
