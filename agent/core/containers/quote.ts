/**
 * Quoting for unit files, so that no value from a configuration or an image can change the
 * meaning of the line it lands in: command lines (ExecStart= and friends), and settings
 * whose value is a list of words (Environment=, BindPaths=).
 *
 * systemd reads such a line in three passes: `%` specifiers (everywhere), `$VAR`
 * substitution (command lines only), then words split on blanks with double quotes and
 * C escapes (`\\`, `\"`, `\n`, `\xNN`). A word is therefore written with `%` doubled, `$`
 * doubled on command lines, and — unless it is made only of harmless characters — inside
 * double quotes with backslash, quote and every control character escaped. A lone `;` is
 * never bare (bare, it would end the command), and a program word that starts like one of
 * systemd's flags (`-`, `@`, `+`, `!`, `:`) is always quoted. Pure: no I/O.
 */

/** Characters a word may hold and still be written bare. */
const BARE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** Leading characters systemd reads as flags of a command's program word. */
const PROGRAM_FLAG = /^[-@+!:|]/;

function escapeChar(c: string): string {
  switch (c) {
    case '\\':
      return '\\\\';
    case '"':
      return '\\"';
    case '\n':
      return '\\n';
    case '\t':
      return '\\t';
    case '\r':
      return '\\r';
    default: {
      const code = c.charCodeAt(0);
      return code < 0x20 || code === 0x7f ? `\\x${code.toString(16).padStart(2, '0')}` : c;
    }
  }
}

/** `%` → `%%`: the value stays literal after specifier expansion. */
export function escapeSpecifiers(text: string): string {
  return text.replace(/%/g, '%%');
}

function quoted(text: string): string {
  return `"${[...text].map(escapeChar).join('')}"`;
}

/** One word of a list setting (Environment=, BindPaths=…), where `$` is not substituted. */
export function quoteWord(word: string): string {
  const text = escapeSpecifiers(word);
  return BARE.test(word) ? text : quoted(text);
}

/** One word of a command line (ExecStart=…): as quoteWord, with `$` written as `$$`. */
export function quoteExecWord(word: string, forceQuotes = false): string {
  const text = escapeSpecifiers(word).replace(/\$/g, '$$$$');
  return BARE.test(word) && !forceQuotes ? text : quoted(text);
}

/**
 * A command's argv for a unit made over D-Bus (StartTransientUnit): no specifiers there, but
 * systemd still substitutes `${NAME}` and whole-word `$NAME` when it runs the command, and
 * reads `$$` as `$`; so every `$` is doubled, as on a unit file's command line.
 */
export function busArgv(argv: readonly string[]): string[] {
  return argv.map((word) => word.replace(/\$/g, '$$$$'));
}

/** A whole command line; the first word is the program. */
export function commandLine(argv: readonly string[]): string {
  return argv.map((word, i) => quoteExecWord(word, i === 0 && PROGRAM_FLAG.test(word))).join(' ');
}
