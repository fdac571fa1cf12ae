/**
 * Plain text tables with aligned columns; styling is applied after padding so escape codes
 * never break the alignment.
 */

export interface Column<T> {
  header: string;
  value: (row: T) => string;
  style?: (row: T, padded: string) => string;
}

export function renderTable<T>(rows: T[], columns: Column<T>[]): string {
  const cells = rows.map((r) => columns.map((c) => c.value(r)));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((row) => row[i]!.length)));
  const line = (values: string[], styleRow?: T): string => values
    .map((v, i) => {
      const padded = i === values.length - 1 ? v : v.padEnd(widths[i]!);
      const style = styleRow !== undefined ? columns[i]!.style : undefined;
      return style && styleRow !== undefined ? style(styleRow, padded) : padded;
    })
    .join('  ')
    .trimEnd();
  return [line(columns.map((c) => c.header)), ...cells.map((row, i) => line(row, rows[i]))].join('\n') + '\n';
}
