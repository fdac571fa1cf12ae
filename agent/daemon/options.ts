/**
 * agentd's command line and the host paths it uses, with every path overridable (tests,
 * sandboxes). Defaults follow DESIGN.md §3.
 */
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import type { BusKind } from '../api/agent1.js';
import { AgentError } from '../core/errors.js';
import { parseSize } from '../core/config/checks.js';
import { parserOptions, renderOptionLines, type OptionDoc } from '../core/usage/options.js';
import { busKindFromEnv } from '../host/bus/address.js';
import { defaultLogFormat, type LogFormat } from '../host/log/logger.js';
import { defaultUnitDirs, type UnitDirs } from '../host/systemd/unit-files.js';

export interface AgentOptions {
  bus: BusKind;
  configPath: string;
  systemConfigDir: string;
  adminConfigDir: string;
  /** Root of the host's files that cloud-config writes (write_files, hostname, SSH keys). */
  hostRoot: string;
  /** The user that receives ssh_authorized_keys. */
  sshUser: string;
  /** Trusted keys: the administrator's, and the ones shipped with the OS. */
  trustDir: string;
  systemTrustDir: string;
  /** The disk holding the USR-A/USR-B partitions; undefined: OS updates are disabled. */
  updateDisk: string | undefined;
  /** The kernel command line naming the booted slot (mount.usr=); a bootloader's override in tests. */
  bootCmdline: string | undefined;
  /** After boot: wait this long, then give the required units this long to be active, ms. */
  bootGraceMs: number | undefined;
  bootHealthTimeoutMs: number | undefined;
  /** Take an OS release older than the running one from the channel (never the same or a failed one). */
  updateAllowDowngrade: boolean;
  stateDir: string;
  runtimeDir: string;
  unitDirs: UnitDirs;
  logFormat: LogFormat;
  logLevel: string;
  /** Most bytes an image may unpack to; undefined: the image store's free space less a reserve, at each fetch. */
  maxImageBytes: number | undefined;
  /** Members of this group (name or gid) read container output over D-Bus, as root does. */
  readGroup: string | undefined;
  /** OCI images: the containers policy.json deciding which images are trusted. */
  policyFile: string;
  /** OCI images: the registries.d directory naming each registry's lookaside signature store. */
  registriesDir: string;
  /** OCI images: the containers-auth.json with registry credentials. */
  registryAuthFile: string;
}

/** agentd's options: the parser, `agentd --help` and agentd(8) read this table. */
export const AGENTD_OPTIONS = [
  { name: 'user', text: "use the session bus and the user's systemd manager" },
  { name: 'system', text: 'use the system bus (the default)' },
  { name: 'config', arg: 'PATH', text: 'cloud-config file (default /etc/host-agent/cloud-config.yaml)' },
  { name: 'config-dir', arg: 'DIR', text: 'admin drop-ins (default /etc/host-agent/config.d)' },
  { name: 'system-config-dir', arg: 'DIR', text: 'shipped drop-ins (default /usr/lib/host-agent/config.d)' },
  { name: 'host-root', arg: 'DIR', text: 'where write_files, hostname and SSH keys go (default /)' },
  { name: 'trust-dir', arg: 'DIR', text: 'trusted keys of the administrator (default /etc/host-agent/trustedkeys)' },
  { name: 'system-trust-dir', arg: 'DIR', text: 'trusted keys shipped with the OS (default /usr/lib/host-agent/trustedkeys)' },
  { name: 'update-disk', arg: 'PATH', text: 'disk (or image) with the USR-A/USR-B partitions; without it OS updates are off' },
  { name: 'boot-cmdline', arg: 'PATH', text: 'file with the kernel command line naming the booted slot (default /proc/cmdline)' },
  { name: 'boot-grace', arg: 'SECONDS', text: 'after boot, wait this long before checking health (default 60)' },
  { name: 'boot-health-timeout', arg: 'SECONDS', text: 'then how long the units may take to be active (default 300)' },
  { name: 'update-allow-downgrade', text: 'install an OS release older than the running one when the channel offers it (refused by default: it may be a replayed release)' },
  { name: 'state-dir', arg: 'DIR', text: 'state directory (default /var/lib/host-agent)' },
  { name: 'runtime-dir', arg: 'DIR', text: 'runtime directory (default /run/host-agent)' },
  { name: 'unit-dir', arg: 'DIR', text: 'where unit files are written (default by bus)' },
  { name: 'log-format', arg: 'FORMAT', text: 'journal, human or json (default: journal under systemd, else human)' },
  { name: 'log-level', arg: 'LEVEL', text: 'error, warn, info or debug (default info)' },
  { name: 'max-image-size', arg: 'SIZE', text: "most an image may unpack to, e.g. 20G (K, M, G, T); default: the image store's free space at each fetch, less 5% of its size (at most 1G)" },
  { name: 'read-group', arg: 'GROUP', text: 'its members see container output and environment values over D-Bus, as root does (default: only root)' },
  { name: 'policy', arg: 'FILE', text: 'OCI images: the containers policy.json saying which signatures each registry needs (default /etc/host-agent/policy.json)' },
  { name: 'registries-d', arg: 'DIR', text: 'OCI images: registries.d files naming the lookaside signature stores (default /etc/host-agent/registries.d)' },
  { name: 'registry-auth-file', arg: 'FILE', text: 'OCI images: containers-auth.json with registry credentials (default /etc/host-agent/auth.json)' },
  { name: 'help', short: 'h', text: 'show this help' },
  { name: 'version', text: 'print the version' },
] as const satisfies readonly OptionDoc[];

export const AGENTD_SUMMARY = 'The host-agent daemon: runs containers as systemd units, keeps images and the OS updated.';

export const AGENTD_USAGE = `Usage: agentd [OPTIONS]

${AGENTD_SUMMARY}

Options:
${renderOptionLines(AGENTD_OPTIONS)}`;

type Flag<K> = Extract<(typeof AGENTD_OPTIONS)[number], { name: K }>;
/** parseArgs' values for the table: a string for an option with a value, else a boolean. */
type AgentdValues = { [K in (typeof AGENTD_OPTIONS)[number]['name']]?: Flag<K> extends { arg: string } ? string : boolean };

/** A whole number of seconds given on the command line, in ms. */
function seconds(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) {
    throw new AgentError({ code: 'agent.usage', message: `${flag} ${value} is not a number of seconds`, hint: `e.g. ${flag} 30` });
  }
  return Number(value) * 1000;
}

export type ParsedAgentArgs = { help: true } | { version: true } | { options: AgentOptions };

export function parseAgentArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): ParsedAgentArgs {
  let values;
  try {
    values = parseArgs({ args: argv, strict: true, allowPositionals: false, options: parserOptions(AGENTD_OPTIONS) }).values as AgentdValues;
  } catch (e) {
    throw new AgentError({ code: 'agent.usage', message: (e as Error).message, hint: 'See agentd --help' });
  }
  if (values.help) return { help: true };
  if (values.version) return { version: true };
  const bus: BusKind = values.user ? 'session' : values.system ? 'system' : busKindFromEnv(env);
  const logFormat = (values['log-format'] ?? defaultLogFormat(env)) as LogFormat;
  if (!['journal', 'human', 'json'].includes(logFormat)) {
    throw new AgentError({ code: 'agent.usage', message: `--log-format ${logFormat} is not a format`, hint: 'Use journal, human or json' });
  }
  const maxImageSize = values['max-image-size'];
  const maxImageBytes = maxImageSize === undefined ? undefined : parseSize(maxImageSize);
  if (maxImageSize !== undefined && !maxImageBytes) {
    throw new AgentError({ code: 'agent.usage', message: `--max-image-size ${maxImageSize} is not a size`, hint: 'e.g. --max-image-size 20G (a number of bytes, or with K, M, G or T)' });
  }
  const unitDirs = defaultUnitDirs(bus, env);
  if (values['unit-dir']) unitDirs.persistent = values['unit-dir'];
  return {
    options: {
      bus,
      configPath: values.config ?? '/etc/host-agent/cloud-config.yaml',
      adminConfigDir: values['config-dir'] ?? '/etc/host-agent/config.d',
      systemConfigDir: values['system-config-dir'] ?? '/usr/lib/host-agent/config.d',
      hostRoot: values['host-root'] ?? '/',
      sshUser: 'core',
      trustDir: values['trust-dir'] ?? '/etc/host-agent/trustedkeys',
      systemTrustDir: values['system-trust-dir'] ?? '/usr/lib/host-agent/trustedkeys',
      updateDisk: values['update-disk'],
      bootCmdline: values['boot-cmdline'],
      bootGraceMs: seconds(values['boot-grace'], '--boot-grace'),
      bootHealthTimeoutMs: seconds(values['boot-health-timeout'], '--boot-health-timeout'),
      updateAllowDowngrade: values['update-allow-downgrade'] ?? false,
      stateDir: values['state-dir'] ?? '/var/lib/host-agent',
      runtimeDir: values['runtime-dir'] ?? (bus === 'system' ? '/run/host-agent' : join(env.XDG_RUNTIME_DIR ?? '/run', 'host-agent')),
      unitDirs,
      logFormat,
      logLevel: values['log-level'] ?? 'info',
      maxImageBytes,
      readGroup: values['read-group'],
      policyFile: values.policy ?? '/etc/host-agent/policy.json',
      registriesDir: values['registries-d'] ?? '/etc/host-agent/registries.d',
      registryAuthFile: values['registry-auth-file'] ?? '/etc/host-agent/auth.json',
    },
  };
}
