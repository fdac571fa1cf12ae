/**
 * The entry point of configuration validation: the files of a configuration, in merge order,
 * in; the report and, when it has no error, the merged typed HostConfig out.
 *
 * Stages: each file is parsed and checked on its own (the reference validator's rules, so a
 * single file gives exactly its entries); if no file has an error, the files are merged (later
 * wins, named items by name) and the whole is read into a HostConfig, with the checks that
 * need the merged item. An error entry means the configuration is not applicable, except
 * one inside a container: that rejects the container alone (in every file, before the
 * merge), and the configuration applies without it (HostConfig.rejectedContainers).
 * Pure: no I/O; decompression comes from the caller.
 */
import { AgentError } from '../errors.js';
import { buildHostConfig, type BuiltConfig } from './build.js';
import type { Gunzip } from './encoding.js';
import { withoutRejected } from './items.js';
import { mergeTrees } from './merge.js';
import { DEFAULT_PARSE_LIMITS, parseCloudConfig, type ParsedSource, type ParseLimits, type SourceKind } from './parse.js';
import { formatEntry, hasConfigErrors, rejectedItems, Report, uniqueEntries, type ReportEntry } from './report.js';
import { CLOUD_CONFIG } from './root-schema.js';
import { checkDocument } from './rules.js';
import type { MapNode } from './tree.js';
import type { HostConfig } from './types.js';

/** One file of the configuration. */
export interface ConfigSource {
  /** Its path, used in report entries; absent for text without a file. */
  file?: string;
  text: string;
}

export interface ValidateOptions {
  /** gzip decompression for `write_files` encodings (the host bounds its output). */
  gunzip: Gunzip;
  /** Limits against hostile input; defaults in DEFAULT_PARSE_LIMITS. */
  limits?: Partial<ParseLimits>;
}

export interface SourceSummary {
  file?: string;
  kind: SourceKind;
}

export interface ConfigResult {
  /** The merged configuration; present if and only if no error lies outside a container. */
  config?: HostConfig;
  /** The merged document the config was read from (rejected containers left out), with `config`. */
  document?: MapNode;
  /** Every entry, file by file in merge order, then those of the merged configuration. */
  entries: ReportEntry[];
  sources: SourceSummary[];
}

/**
 * The first stage for one file: parse and the rules of the reference validator (with our
 * value checks). Its entries are those the reference gives for the file.
 */
export function checkSource(source: ConfigSource, options: ValidateOptions): ParsedSource {
  const parsed = parseCloudConfig(source.text, source.file, { ...DEFAULT_PARSE_LIMITS, ...options.limits });
  if (!parsed.tree) return parsed;
  const report = new Report(source.file);
  checkDocument(parsed.tree, report, { schema: CLOUD_CONFIG, gunzip: options.gunzip });
  return { ...parsed, entries: uniqueEntries([...parsed.entries, ...report.entries]) };
}

/** Validates and merges the files of a configuration, given in merge order (last wins). */
export function validateSources(sources: readonly ConfigSource[], options: ValidateOptions): ConfigResult {
  const entries: ReportEntry[] = [];
  const trees: MapNode[] = [];
  const summaries: SourceSummary[] = [];
  for (const source of sources) {
    const checked = checkSource(source, options);
    summaries.push(source.file === undefined ? { kind: checked.kind } : { file: source.file, kind: checked.kind });
    entries.push(...checked.entries);
    if (checked.tree) trees.push(checked.tree);
  }
  if (hasConfigErrors(entries)) return { entries: uniqueEntries(entries), sources: summaries };
  const rejected = rejectedItems(entries);
  const report = new Report();
  const document = mergeTrees(trees.map((t) => withoutRejected(t, CLOUD_CONFIG, rejected)), CLOUD_CONFIG);
  const built = buildHostConfig(document, report, options.gunzip);
  const all = uniqueEntries([...entries, ...report.entries]);
  return hasConfigErrors(all) ? { entries: all, sources: summaries } : { config: setRejectedApart(built, all), document, entries: all, sources: summaries };
}

/** The containers that an error entry rejects, moved from `containers` to `rejectedContainers`. */
function setRejectedApart(built: BuiltConfig, entries: readonly ReportEntry[]): HostConfig {
  const rejected = rejectedItems(entries);
  return {
    ...built,
    containers: built.containers.filter((c) => !rejected.has(c.name)),
    rejectedContainers: [...rejected].map((name) => ({ name, errors: entries.filter((e) => e.item === name && e.level === 'error') })),
  };
}

/** Validates one text, e.g. a file given to `agentctl config validate`. */
export function validateText(text: string, options: ValidateOptions & { file?: string }): ConfigResult {
  return validateSources([options.file === undefined ? { text } : { file: options.file, text }], options);
}

/**
 * The error to raise (or show) for a result that is not applicable: the count, then every
 * error with its file and line, one a line; its subject is the file of the first.
 */
export function invalidConfigError(result: Pick<ConfigResult, 'entries'>): AgentError {
  const errors = result.entries.filter((e) => e.level === 'error');
  const first = errors[0];
  return new AgentError({
    code: 'config.invalid',
    message: `the configuration has ${errors.length} error${errors.length === 1 ? '' : 's'}:\n${errors.map((e) => `  ${formatEntry(e)}`).join('\n')}`,
    ...(first?.file !== undefined && { subject: first.file }),
    hint: 'Fix the lines named in the report and save; until then the last good configuration stays in force',
  });
}
