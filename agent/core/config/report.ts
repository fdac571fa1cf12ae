/**
 * Validation reports: entries `line N: error|warning|info: message`, as coreos-cloudinit's
 * validator prints them, plus the file each entry comes from (drop-ins are several files).
 * An error makes the configuration not applicable, unless it lies inside an item of an
 * isolated list (a container): then it rejects that item alone. Warnings and infos do not.
 * Pure: no I/O.
 */

export type ReportLevel = 'error' | 'warning' | 'info';

export interface ReportEntry {
  /** 1-based line in `file`; 0 when the entry has no place (as the reference does). */
  line: number;
  level: ReportLevel;
  message: string;
  /** The file the entry is about; absent when validating text that has no file. */
  file?: string;
  /** The name of the isolated item (a container) the entry lies in; its errors reject that item alone. */
  item?: string;
}

/** Collects entries for one file, in the order the rules find them. */
export class Report {
  constructor(private readonly file?: string, readonly entries: ReportEntry[] = [], private readonly item?: string) {}

  /** The same report, for entries that lie in the isolated item `name`. */
  forItem(name: string): Report {
    return new Report(this.file, this.entries, name);
  }

  error(line: number, message: string): void {
    this.add('error', line, message);
  }

  warning(line: number, message: string): void {
    this.add('warning', line, message);
  }

  info(line: number, message: string): void {
    this.add('info', line, message);
  }

  /** Adds an entry that belongs to another file (entries found after a merge). */
  addFor(file: string | undefined, level: ReportLevel, line: number, message: string): void {
    this.entries.push({ line, level, message, ...(file !== undefined && { file }), ...(this.item !== undefined && { item: this.item }) });
  }

  private add(level: ReportLevel, line: number, message: string): void {
    this.addFor(this.file, level, line, message);
  }
}

/**
 * One entry as the reference prints it: `line 4: error: invalid value lol`.
 * With `withFile` (the default) an entry that names a file is prefixed with it:
 * `/etc/host-agent/cloud-config.yaml: line 4: error: invalid value lol`.
 */
export function formatEntry(entry: ReportEntry, withFile = true): string {
  const text = `line ${entry.line}: ${entry.level}: ${entry.message}`;
  return withFile && entry.file !== undefined ? `${entry.file}: ${text}` : text;
}

export function hasErrors(entries: readonly ReportEntry[]): boolean {
  return entries.some((e) => e.level === 'error');
}

/** Whether an error makes the whole configuration not applicable (it lies in no isolated item). */
export function hasConfigErrors(entries: readonly ReportEntry[]): boolean {
  return entries.some((e) => e.level === 'error' && e.item === undefined);
}

/** The isolated items (containers) that an error rejects, by name. */
export function rejectedItems(entries: readonly ReportEntry[]): Set<string> {
  return new Set(entries.flatMap((e) => (e.level === 'error' && e.item !== undefined ? [e.item] : [])));
}

/** Drops repeated entries (an aliased node is checked once per use), keeping the first. */
export function uniqueEntries(entries: readonly ReportEntry[]): ReportEntry[] {
  const seen = new Set<string>();
  return entries.filter((e) => {
    const key = `${e.file ?? ''}\u0000${formatEntry(e, false)}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
