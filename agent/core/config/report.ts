/**
 * Validation reports: entries `line N: error|warning|info: message`, as coreos-cloudinit's
 * validator prints them, plus the file each entry comes from (drop-ins are several files).
 * An error makes the configuration not applicable; warnings and infos do not.
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
}

/** Collects entries for one file, in the order the rules find them. */
export class Report {
  readonly entries: ReportEntry[] = [];

  constructor(private readonly file?: string) {}

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
    this.entries.push(file === undefined ? { line, level, message } : { line, level, message, file });
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
