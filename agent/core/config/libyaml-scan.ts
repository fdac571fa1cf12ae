/**
 * The rules of libyaml's scanner (the YAML parser behind coreos-cloudinit, through go-yaml)
 * that the `yaml` package does not share, run on the text before it is parsed:
 *
 * - a tab where a token may start in block context (a tab-only line, a tab before a
 *   comment at the start of a line, `-<TAB>item`; not after `key:`):
 *   `found character that cannot start any token`;
 * - `@`, `` ` `` or `%` (but a directive in column 0) starting a plain scalar: the same error;
 * - a tab in the indentation of a continuation line of a plain scalar:
 *   `found a tab character that violate intendation` (go-yaml's spelling);
 * - a tab in the indentation of a block scalar (`|`, `>`):
 *   `found a tab character where an intendation space is expected`;
 * - a token right after a quoted scalar on its line (`"a" b`, or the rest of the line after
 *   the next quote, when a quote is left open): `did not find expected key` in a mapping,
 *   `did not find expected '-' indicator` in a sequence (libyaml's parser);
 * - a multi-line quoted scalar whose continuation lines are less indented than YAML 1.2
 *   asks is accepted: those lines are given leading spaces (which folding drops, so the
 *   value is the same) and the `yaml` package parses the result.
 *
 * Flow collections nested beyond MAX_FLOW_LEVEL are refused here, quickly (hostile input).
 *
 * The scan follows libyaml's notion of the current indentation (the column of the
 * innermost block collection) and of where a simple key is allowed. It stops at the first
 * rule error; anything else it leaves to the `yaml` package. Lines are 1-based.
 * Pure: no I/O.
 */

export interface ScanProblem {
  line: number;
  message: string;
}

export interface ScanResult {
  /** The text to parse: the input, with continuation lines of quoted scalars indented. */
  text: string;
  problem?: ScanProblem;
}

export const CANNOT_START_TOKEN = 'found character that cannot start any token';
export const TAB_IN_PLAIN_INDENT = 'found a tab character that violate intendation';
export const TAB_IN_BLOCK_INDENT = 'found a tab character where an intendation space is expected';
export const EXPECTED_KEY = 'did not find expected key';
export const EXPECTED_ENTRY = "did not find expected '-' indicator";
export const TOO_DEEP = 'nesting too deep to parse; a cloud-config needs only a few levels';

/** Flow collections (`[`, `{`) open at once beyond which the text is refused before parsing. */
export const MAX_FLOW_LEVEL = 1000;

class Stop {
  constructor(readonly problem: ScanProblem) {}
}

const isBreak = (c: string | undefined): boolean => c === '\n' || c === '\r';
const isBlank = (c: string | undefined): boolean => c === ' ' || c === '\t';
const isBlankZ = (c: string | undefined): boolean => c === undefined || isBlank(c) || isBreak(c);
const FLOW_INDICATORS = ',[]{}';

/** Scans `text` (a whole cloud-config) with libyaml's rules listed above. */
export function libyamlScan(text: string): ScanResult {
  let pos = 0;
  let line = 1;
  let lineStart = 0;
  let flow = 0;
  let simpleKeyAllowed = true;
  /** The open block collections: column, and whether a mapping (else a sequence). */
  const indents: Array<{ col: number; map: boolean }> = [];
  /** Column and line of the token that may be a simple key, for the `:` that follows it. */
  let keyCandidate: { col: number; line: number } | undefined;
  /** Offsets of line starts to prefix with spaces, and how many (in text order). */
  const padAt: number[] = [];
  const padBy: number[] = [];

  const at = (offset = 0): string | undefined => text[pos + offset];
  const col = (): number => pos - lineStart;
  const indent = (): number => indents[indents.length - 1]?.col ?? -1;
  const fail = (message: string): never => {
    throw new Stop({ line, message });
  };
  const skipBreak = (): void => {
    if (at() === '\r' && at(1) === '\n') pos++;
    pos++;
    line++;
    lineStart = pos;
  };
  const roll = (column: number, map: boolean): void => {
    if (flow === 0 && indent() < column) indents.push({ col: column, map });
  };

  const toNextToken = (): void => {
    for (;;) {
      while (at() === ' ' || ((flow > 0 || !simpleKeyAllowed) && at() === '\t')) pos++;
      if (at() === '#') while (at() !== undefined && !isBreak(at())) pos++;
      if (!isBreak(at())) return;
      skipBreak();
      if (flow === 0) simpleKeyAllowed = true;
    }
  };

  const documentMarker = (): boolean =>
    col() === 0 && (text.startsWith('---', pos) || text.startsWith('...', pos)) && isBlankZ(at(3));

  const plainScalar = (): void => {
    const min = indent() + 1;
    let crossedBreak = false;
    for (;;) {
      if (documentMarker() || at() === '#') break;
      while (!isBlankZ(at())) {
        if (at() === ':' && (isBlankZ(at(1)) || (flow > 0 && FLOW_INDICATORS.includes(at(1)!)))) break;
        if (flow > 0 && FLOW_INDICATORS.includes(at()!)) break;
        pos++;
      }
      if (!isBlank(at()) && !isBreak(at())) break;
      while (isBlank(at()) || isBreak(at())) {
        if (isBlank(at())) {
          if (crossedBreak && col() < min && at() === '\t') fail(TAB_IN_PLAIN_INDENT);
          pos++;
        } else {
          skipBreak();
          crossedBreak = true;
        }
      }
      if (flow === 0 && col() < min) break;
    }
    simpleKeyAllowed = crossedBreak;
  };

  /** Spaces and line breaks before and between lines of a block scalar; returns the widest indentation seen. */
  const blockBreaks = (width: number): number => {
    let widest = 0;
    for (;;) {
      while ((width === 0 || col() < width) && at() === ' ') pos++;
      if (col() > widest) widest = col();
      if ((width === 0 || col() < width) && at() === '\t') fail(TAB_IN_BLOCK_INDENT);
      if (!isBreak(at())) return widest;
      skipBreak();
    }
  };

  const blockScalar = (): void => {
    pos++;
    let increment = 0;
    for (let i = 0; i < 2; i++) {
      if (at() === '+' || at() === '-') pos++;
      else if (at() !== undefined && at()! >= '1' && at()! <= '9') increment = Number(at()), pos++;
    }
    while (isBlank(at())) pos++;
    if (at() === '#') while (at() !== undefined && !isBreak(at())) pos++;
    if (!isBreak(at())) return; // the `yaml` package reports what follows the indicator
    skipBreak();
    let width = increment === 0 ? 0 : indent() >= 0 ? indent() + increment : increment;
    const widest = blockBreaks(width);
    if (width === 0) width = Math.max(widest, indent() + 1, 1);
    while (col() === width && at() !== undefined) {
      while (at() !== undefined && !isBreak(at())) pos++;
      if (at() === undefined) break;
      skipBreak();
      blockBreaks(width);
    }
    simpleKeyAllowed = true;
  };

  const quotedScalar = (): void => {
    const quote = at();
    const need = indent() + 1;
    pos++;
    for (;;) {
      const c = at();
      if (c === undefined) return; // unclosed: the `yaml` package reports it
      if (quote === "'" && c === "'" && at(1) === "'") pos += 2;
      else if (c === quote) {
        pos++;
        break;
      } else if (quote === '"' && c === '\\' && !isBreak(at(1))) pos += 2;
      else if (quote === '"' && c === '\\') pos++;
      else if (isBreak(c)) {
        skipBreak();
        let spaces = 0;
        while (at(spaces) === ' ') spaces++;
        if (flow === 0 && spaces < need && !documentMarker()) {
          padAt.push(pos);
          padBy.push(need - spaces);
        }
      } else pos++;
    }
    simpleKeyAllowed = false;
  };

  /**
   * After a quoted scalar, the line may hold only blanks, a comment, `:` or (in flow
   * context) `,`, `]`, `}`: another token there is where libyaml's parser expected the next
   * key of the mapping (or `-` item of the sequence) it is in.
   */
  const afterQuoted = (): void => {
    let i = 0;
    while (isBlank(at(i))) i++;
    const next = at(i);
    if (next === undefined || isBreak(next) || next === ':' || (next === '#' && i > 0)) return;
    if (flow > 0 && FLOW_INDICATORS.includes(next)) return;
    if (flow > 0) return; // the `yaml` package words flow errors
    pos += i;
    const top = indents[indents.length - 1];
    if (top) fail(top.map ? EXPECTED_KEY : EXPECTED_ENTRY);
  };

  const skipWord = (): void => {
    while (!isBlankZ(at()) && !(flow > 0 && FLOW_INDICATORS.includes(at()!))) pos++;
  };

  try {
    for (;;) {
      toNextToken();
      const c = at();
      if (c === undefined) break;
      if (flow === 0) while (indent() > col()) indents.pop();
      if (keyCandidate && keyCandidate.line !== line) keyCandidate = undefined;
      const column = col();
      if (column === 0 && c === '%') {
        while (at() !== undefined && !isBreak(at())) pos++;
      } else if (documentMarker()) {
        pos += 3;
        indents.length = 0;
        simpleKeyAllowed = false;
      } else if (c === '[' || c === '{') {
        if (simpleKeyAllowed) keyCandidate = { col: column, line };
        if (++flow > MAX_FLOW_LEVEL) fail(TOO_DEEP);
        pos++;
        simpleKeyAllowed = true;
      } else if (c === ']' || c === '}') {
        flow = Math.max(0, flow - 1);
        pos++;
        simpleKeyAllowed = false;
      } else if (c === ',') {
        pos++;
        simpleKeyAllowed = true;
      } else if ((c === '-' || c === '?') && isBlankZ(at(1))) {
        roll(column, c === '?');
        pos++;
        simpleKeyAllowed = flow === 0 || c === '-';
      } else if (c === ':' && (isBlankZ(at(1)) || flow > 0)) {
        // After a simple key's `:` no simple key may follow (tabs are blanks there);
        // after a complex key's `:`, one may in block context.
        simpleKeyAllowed = !keyCandidate && flow === 0;
        if (keyCandidate) roll(keyCandidate.col, true);
        keyCandidate = undefined;
        pos++;
      } else if (c === '*' || c === '&' || c === '!') {
        if (simpleKeyAllowed) keyCandidate = { col: column, line };
        pos++;
        skipWord();
        simpleKeyAllowed = false;
      } else if ((c === '|' || c === '>') && flow === 0) {
        blockScalar();
      } else if (c === "'" || c === '"') {
        if (simpleKeyAllowed) keyCandidate = { col: column, line };
        quotedScalar();
        afterQuoted();
      } else if (c === '\t' || c === '@' || c === '`' || c === '%') {
        fail(CANNOT_START_TOKEN);
      } else {
        if (simpleKeyAllowed) keyCandidate = { col: column, line };
        plainScalar();
      }
    }
  } catch (e) {
    if (e instanceof Stop) return { text, problem: e.problem };
    throw e;
  }
  if (padAt.length === 0) return { text };
  const parts: string[] = [];
  let from = 0;
  padAt.forEach((offset, i) => {
    parts.push(text.slice(from, offset), ' '.repeat(padBy[i]!));
    from = offset;
  });
  parts.push(text.slice(from));
  return { text: parts.join('') };
}
