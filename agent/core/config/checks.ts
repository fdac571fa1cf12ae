/**
 * Checks of the values of our own `host-agent:` keys, and of `users[]` (which the agent
 * creates). Each returns the whole message of the error, naming the rule and a correct
 * example, or undefined when the value is fine.
 * Pure: no I/O.
 */
import { parseImageText } from '../image/match.js';
import { acIdentifierProblem, acNameProblem } from '../appc/names.js';
import { describeError, isAgentError } from '../errors.js';
import { cronExpressionProblem } from '../schedule/cron.js';
import { UPDATE_PROTOCOLS } from '../update/omaha.js';
import { parseGoDuration, parseWindowStart, DURATION_FORMS } from '../schedule/window.js';
import type { ValueCheck } from './schema.js';

export const RESTART_POLICIES = ['no', 'on-success', 'on-failure', 'on-abnormal', 'on-watchdog', 'on-abort', 'always'] as const;
export const ISOLATIONS = ['nspawn', 'fly'] as const;
export const PROTOCOLS = ['tcp', 'udp'] as const;

const SIZE = /^([0-9]+)([KMGT]?)$/;
const SIZE_FACTORS: Readonly<Record<string, number>> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

/** Bytes of a size like `128M`, or undefined when it is not one. */
export function parseSize(text: string): number | undefined {
  const m = SIZE.exec(text);
  return m ? Number(m[1]) * SIZE_FACTORS[m[2]!]! : undefined;
}

/** Percent of one CPU in `50%`, or undefined when it is not one. */
export function parseCpuPercent(text: string): number | undefined {
  const m = /^([0-9]+)%$/.exec(text);
  return m && Number(m[1]) > 0 ? Number(m[1]) : undefined;
}

const oneOf = (what: string, values: readonly string[], note = ''): ValueCheck<string> => (v) =>
  values.includes(v) ? undefined : `invalid ${what} "${v}": use one of ${values.join(', ')}${note}`;

export const checkContainerName: ValueCheck<string> = (v) => {
  const problem = acNameProblem(v);
  return problem && `invalid container name "${v}": ${problem}; e.g. "web" or "web-2"`;
};

export const checkImage: ValueCheck<string> = (v) => {
  try {
    parseImageText(v);
    return undefined;
  } catch (e) {
    const hint = isAgentError(e) && e.hint ? `; ${e.hint.charAt(0).toLowerCase()}${e.hint.slice(1)}` : '';
    const why = isAgentError(e) ? `${e.message}${hint}` : describeError(e);
    return `invalid image "${v}": ${why}`;
  }
};

export const absolutePath = (what: string): ValueCheck<string> => (v) =>
  v.startsWith('/') ? undefined : `invalid ${what} "${v}": it must be an absolute path, e.g. /var/lib/web`;

export const checkMemory: ValueCheck<string> = (v) =>
  parseSize(v) ? undefined
    : `invalid memory size "${v}": write a whole number of bytes with an optional K, M, G or T suffix (powers of 1024), e.g. 128M or 1G`;

export const checkCpu: ValueCheck<string> = (v) =>
  parseCpuPercent(v) ? undefined
    : `invalid cpu "${v}": write a percentage of one CPU above 0, e.g. 50% (200% is two whole CPUs)`;

export const checkRestart = oneOf('restart policy', RESTART_POLICIES, ' (as systemd\'s Restart=)');
export const checkIsolation = oneOf('isolation', ISOLATIONS,
  ' (nspawn: a container with its own namespaces; fly: a chroot sandbox on the host, like rkt fly)');
export const checkProtocol = oneOf('protocol', PROTOCOLS);
export const checkUpdateProtocol = oneOf('update protocol', UPDATE_PROTOCOLS,
  ' (omaha: an Omaha 3.0 server such as Nebraska; release: the signed release.json channel)');
/** An Omaha application id: a GUID, with or without braces. */
export const checkAppId: ValueCheck<string> = (v) => (/^\{?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}?$/.test(v) ? undefined
  : `invalid Omaha app id "${v}": use a GUID such as {e96281a6-d1af-4bde-9a0a-97b76e56dc57}`);

export const checkUserOrGroup = (what: 'user' | 'group'): ValueCheck<string> => (v) =>
  /^([a-z_][a-z0-9_-]*\$?|[0-9]+)$/i.test(v) ? undefined
    : `invalid ${what} "${v}": use a ${what} name such as "nobody" or a numeric id`;

/** A login name as useradd takes it without --badname (at most 32 characters). */
const LOGIN_NAME = /^[a-z_][a-z0-9_-]*\$?$/;
const LOGIN_NAME_RULE = 'lower-case letters, digits, "_" and "-", starting with a letter or "_" (a final "$" is allowed), at most 32 characters';

export const checkLoginName: ValueCheck<string> = (v) =>
  LOGIN_NAME.test(v) && v.length <= 32 ? undefined : `invalid user name "${v}": use ${LOGIN_NAME_RULE}, e.g. "elroy"`;

export const checkGroupName: ValueCheck<string> = (v) =>
  (LOGIN_NAME.test(v) && v.length <= 32) || /^[0-9]+$/.test(v) ? undefined
    : `invalid group "${v}": use a group name of ${LOGIN_NAME_RULE}, e.g. "docker", or a numeric id`;

/** A crypt(3) hash (`$id$…`, e.g. `$6$salt$hash`), or a locked password (`*`, `!`, `!` before a hash). */
export const checkPasswordHash: ValueCheck<string> = (v) =>
  /^(\$[a-z0-9]+\$[^:\s]+|[*!][^:\s]*)$/.test(v) ? undefined
    : 'invalid passwd: it must be a password hash, not the password itself; make one with "mkpasswd -m sha-512" (or "*" for no password login)';

export const checkPrivateUsers: ValueCheck<string> = (v) =>
  /^(yes|no|true|false|pick|identity|[0-9]+(:[0-9]+)?)$/.test(v) ? undefined
    : `invalid private-users "${v}": use true, false, pick, identity, or a first UID with an optional count such as 65536:65536 (as systemd-nspawn --private-users=)`;

export const checkPort: ValueCheck<number> = (n) =>
  Number.isInteger(n) && n >= 1 && n <= 65535 ? undefined : `invalid port ${n}: use a port number from 1 to 65535`;

export const checkEnvironmentName: ValueCheck<string> = (k) =>
  /^[A-Za-z_][A-Za-z0-9_]*$/.test(k) ? undefined
    : `invalid environment variable name "${k}": use letters, digits and "_", not starting with a digit, e.g. LOG_LEVEL`;

export const checkCron: ValueCheck<string> = (v) => cronExpressionProblem(v);

export const checkWindowStart: ValueCheck<string> = (v) => {
  const parsed = parseWindowStart(v);
  return parsed.ok ? undefined : parsed.problem;
};

export const checkWindowLength: ValueCheck<string> = (v) => {
  const parsed = parseGoDuration(v);
  if (!parsed.ok) return parsed.problem;
  return parsed.value > 0 ? undefined : `invalid window length "${v}": it must be greater than zero; ${DURATION_FORMS}`;
};

export const checkTrustPrefix: ValueCheck<string> = (v) => {
  const problem = acIdentifierProblem(v);
  return problem && `invalid trust prefix "${v}": ${problem}; use an image name or a prefix of one, e.g. example.com/web`;
};

export const ARMORED_KEY_HEADER = '-----BEGIN PGP PUBLIC KEY BLOCK-----';

export const checkArmoredKey: ValueCheck<string> = (v) =>
  v.includes(ARMORED_KEY_HEADER) ? undefined
    : `invalid key: it must be an ASCII-armored OpenPGP public key beginning with "${ARMORED_KEY_HEADER}"; export one with "gpg --armor --export KEYID"`;
