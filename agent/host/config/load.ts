/**
 * Reading the configuration files from disk, in merge order, and validating them:
 * the shipped drop-ins (`/usr/lib/host-agent/config.d/*.yaml`, sorted by name), the main file
 * (`/etc/host-agent/cloud-config.yaml`), then the admin drop-ins
 * (`/etc/host-agent/config.d/*.yaml`, sorted by name). Every path can be overridden.
 * Missing files and directories are skipped; a file that cannot be read, or is too large, is
 * an error entry of its own (so the configuration is not applied without it).
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { Gunzip } from '../../core/config/encoding.js';
import type { ParseLimits } from '../../core/config/parse.js';
import type { ReportEntry } from '../../core/config/report.js';
import { checkSource, validateSources, type ConfigResult, type ConfigSource } from '../../core/config/validate.js';

export interface ConfigPaths {
  mainFile: string;
  systemDropinDir: string;
  adminDropinDir: string;
}

export const DEFAULT_CONFIG_PATHS: ConfigPaths = {
  mainFile: '/etc/host-agent/cloud-config.yaml',
  systemDropinDir: '/usr/lib/host-agent/config.d',
  adminDropinDir: '/etc/host-agent/config.d',
};

export interface LoadOptions extends Partial<ConfigPaths> {
  /** Largest file read, in bytes (default 4 MiB). */
  maxFileBytes?: number;
  /** Largest decompressed `write_files` content, in bytes (default 64 MiB). */
  maxGunzipBytes?: number;
  limits?: Partial<ParseLimits>;
}

export interface LoadedConfig extends ConfigResult {
  /** The files read, in merge order, with their text: what `saveLastGood` keeps. */
  files: ConfigSource[];
}

const DEFAULT_MAX_FILE_BYTES = 4 * 1024 * 1024;
const DEFAULT_MAX_GUNZIP_BYTES = 64 * 1024 * 1024;
const DROPIN_SUFFIX = '.yaml';

export function configPaths(options: Partial<ConfigPaths> = {}): ConfigPaths {
  return { ...DEFAULT_CONFIG_PATHS, ...options };
}

/** The paths to watch for changes: both drop-in directories and the main file. */
export function configWatchPaths(options: Partial<ConfigPaths> = {}): string[] {
  const paths = configPaths(options);
  return [paths.systemDropinDir, paths.mainFile, paths.adminDropinDir];
}

/** gzip decompression that refuses to produce more than `maxBytes`. */
export function boundedGunzip(maxBytes: number = DEFAULT_MAX_GUNZIP_BYTES): Gunzip {
  return (data) => gunzipSync(data, { maxOutputLength: maxBytes });
}

function errorCode(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

/** The files of the configuration in merge order, and the problems met listing them. */
export interface ConfigFiles {
  files: string[];
  entries: ReportEntry[];
  /** Files named by the user (`agentctl config validate FILE…`): a missing one is an error. */
  required?: boolean;
}

/** `*.yaml` files of a directory, sorted by name; hidden files (and temp files) are skipped. */
async function dropins(dir: string): Promise<ConfigFiles> {
  try {
    const names = await readdir(dir);
    const files = names.filter((n) => n.endsWith(DROPIN_SUFFIX) && !n.startsWith('.')).sort().map((n) => join(dir, n));
    return { files, entries: [] };
  } catch (e) {
    if (errorCode(e) === 'ENOENT') return { files: [], entries: [] };
    const message = `cannot list the drop-in directory (${errorCode(e) ?? (e as Error).message}); it must be a directory the agent may read`;
    return { files: [], entries: [{ file: dir, line: 1, level: 'error', message }] };
  }
}

/** The files of the configuration, in merge order (missing ones are left out later). */
export async function configFiles(options: Partial<ConfigPaths> = {}): Promise<ConfigFiles> {
  const paths = configPaths(options);
  const [system, admin] = await Promise.all([dropins(paths.systemDropinDir), dropins(paths.adminDropinDir)]);
  return {
    files: [...system.files, paths.mainFile, ...admin.files],
    entries: [...system.entries, ...admin.entries],
  };
}

type ReadResult = { text: string } | { entry: ReportEntry } | 'missing';

async function readSource(file: string, maxBytes: number): Promise<ReadResult> {
  const problem = (message: string): ReadResult => ({ entry: { file, line: 1, level: 'error', message } });
  try {
    const info = await stat(file);
    if (!info.isFile()) return problem('not a regular file; a configuration file must be a YAML file');
    if (info.size > maxBytes) {
      return problem(`the file is too large: ${info.size} bytes where at most ${maxBytes} are accepted`);
    }
    // A BOM is kept: before "#cloud-config" it makes the header wrong, as for coreos-cloudinit.
    return { text: new TextDecoder('utf-8', { ignoreBOM: true }).decode(await readFile(file)) };
  } catch (e) {
    if (errorCode(e) === 'ENOENT') return 'missing';
    return problem(`cannot read the file (${errorCode(e) ?? (e as Error).message}); check that it exists and that the agent may read it`);
  }
}

/** Reads every configuration file; unreadable ones become error entries. */
export async function readConfigSources(options: LoadOptions = {}, listed?: ConfigFiles): Promise<ConfigFiles & { sources: ConfigSource[] }> {
  const sources: ConfigSource[] = [];
  const listing = listed ?? await configFiles(options);
  const entries = [...listing.entries];
  for (const file of listing.files) {
    const read = await readSource(file, options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES);
    if (read === 'missing' && listing.required) entries.push({ file, line: 0, level: 'error', message: 'no such file; check the path' });
    if (read === 'missing') continue;
    if ('entry' in read) entries.push(read.entry);
    else sources.push({ file, text: read.text });
  }
  return { files: listing.files, sources, entries };
}

/** Entries sorted by the merge order of their files (stable: each file's own order is kept). */
function inFileOrder(entries: ReportEntry[], options: Partial<ConfigPaths>, files: string[]): ReportEntry[] {
  const paths = configPaths(options);
  const order = [paths.systemDropinDir, paths.adminDropinDir, ...files];
  const rank = (e: ReportEntry) => (e.file === undefined ? order.length : order.indexOf(e.file));
  return entries.map((e, i) => ({ e, i })).sort((a, b) => rank(a.e) - rank(b.e) || a.i - b.i).map(({ e }) => e);
}

/**
 * Reads, validates and merges the configuration. `config` is present only without errors.
 * When a file cannot be read, the others are still checked one by one (not merged: the
 * whole would lack that file).
 */
export async function loadConfig(options: LoadOptions = {}, listed?: ConfigFiles): Promise<LoadedConfig> {
  const { files, sources, entries } = await readConfigSources(options, listed);
  const validateOptions = {
    gunzip: boundedGunzip(options.maxGunzipBytes),
    ...(options.limits && { limits: options.limits }),
  };
  if (entries.length === 0) return { ...validateSources(sources, validateOptions), files: sources };
  const checked = sources.map((source) => ({ source, ...checkSource(source, validateOptions) }));
  return {
    entries: inFileOrder([...entries, ...checked.flatMap((c) => c.entries)], options, files),
    sources: checked.map((c) => ({ file: c.source.file!, kind: c.kind })),
    files: sources,
  };
}

/** Like loadConfig, for the given files in the given order (`agentctl config validate FILE…`). */
export function loadConfigFiles(files: string[], options: LoadOptions = {}): Promise<LoadedConfig> {
  return loadConfig(options, { files, entries: [], required: true });
}
