/**
 * Command-line options as one table, read by the parser (parseArgs' options), `--help`
 * and the man page: a program's options are written once. Pure.
 */

export interface OptionDoc {
  /** The long name, without the dashes. */
  readonly name: string;
  readonly short?: string;
  /** The value's placeholder (PATH, DIR…); absent for a flag without value. */
  readonly arg?: string;
  readonly text: string;
}

/** `-h, --help`, `--config PATH`. */
export function optionTerm(o: OptionDoc): string {
  return `${o.short ? `-${o.short}, ` : ''}--${o.name}${o.arg ? ` ${o.arg}` : ''}`;
}

/** The table as parseArgs options. */
export function parserOptions(table: readonly OptionDoc[]): Record<string, { type: 'string' | 'boolean'; short?: string }> {
  return Object.fromEntries(table.map((o) => [o.name, { type: o.arg ? 'string' : 'boolean', ...(o.short && { short: o.short }) }]));
}

/** Splits `text` into lines of at most `width` characters, at spaces. */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  return [...lines, line];
}

/** The option lines of a --help: terms in a column, texts wrapped to 80 columns beside it. */
export function renderOptionLines(table: readonly OptionDoc[]): string {
  const column = Math.min(26, Math.max(...table.map((o) => optionTerm(o).length)) + 2);
  return table.map((o) => {
    const term = optionTerm(o);
    const [first, ...rest] = wrap(o.text, 78 - column);
    const head = term.length + 2 > column ? [`  ${term}`, `  ${' '.repeat(column)}${first}`] : [`  ${term.padEnd(column)}${first}`];
    return [...head, ...rest.map((l) => `  ${' '.repeat(column)}${l}`)].join('\n') + '\n';
  }).join('');
}
