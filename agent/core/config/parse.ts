/**
 * Reading one cloud-config file into a tree: the header rule (`#cloud-config`; a `#!` script
 * or an Ignition JSON config is, as for coreos-cloudinit's validator, no cloud-config and
 * ignored without an entry: the agent runs neither), size and text checks, libyaml's
 * scanner rules that the `yaml` package does not share (./libyaml-scan.ts), and the YAML parse with line
 * numbers. Syntax errors are reported as the reference reports them (libyaml's wording where
 * the meaning is the same), followed, as in the reference, by the warning its rules give the
 * empty document. Pure: no I/O.
 */
import { LineCounter, parseDocument } from 'yaml';
import type { YAMLError } from 'yaml';
import { libyamlScan, TOO_DEEP } from './libyaml-scan.js';
import { Report, type ReportEntry } from './report.js';
import { buildTree, DEFAULT_TREE_LIMITS, isTreeNode, type MapNode, type TreeLimits } from './tree.js';

/** `empty`: no bytes; `script`: begins with `#!`, `ignition`: Ignition JSON (both ignored); `invalid`: bad header. */
export type SourceKind = 'empty' | 'script' | 'ignition' | 'cloud-config' | 'invalid';

export interface ParseLimits extends TreeLimits {
  /** Longest file accepted, in characters. */
  maxChars: number;
}

export const DEFAULT_PARSE_LIMITS: ParseLimits = { ...DEFAULT_TREE_LIMITS, maxChars: 4 * 1024 * 1024 };

export interface ParsedSource {
  kind: SourceKind;
  /** The document, present only when it parsed without errors. */
  tree?: MapNode;
  entries: ReportEntry[];
}

export const HEADER = '#cloud-config';
const NOT_TEXT = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F\uFFFD]/;

/** Whether the text is an Ignition config: JSON with `ignitionVersion` or `ignition.version`. */
function isIgnitionConfig(text: string): boolean {
  if (!text.trimStart().startsWith('{')) return false;
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== 'object' || value === null) return false;
    const { ignitionVersion, ignition } = value as { ignitionVersion?: unknown; ignition?: { version?: unknown } };
    return typeof ignitionVersion === 'number' || typeof ignition?.version === 'string';
  } catch {
    return false;
  }
}

/** The kind of a file from its first line (or, for Ignition, its JSON), as the reference decides it. */
export function sourceKind(text: string): SourceKind {
  if (text === '') return 'empty';
  const newline = text.indexOf('\n');
  const first = newline < 0 ? text : text.slice(0, newline);
  if (first.startsWith('#!')) return 'script';
  if (isIgnitionConfig(text)) return 'ignition';
  return first.trimEnd() === HEADER ? 'cloud-config' : 'invalid';
}

function lineAt(text: string, index: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < index; i = text.indexOf('\n', i + 1)) line++;
  return line;
}

const EMPTY_DOCUMENT_WARNING = 'incorrect type for "" (want struct)';

/** libyaml's wording for the problems both parsers name (told apart by code and, within a code, by kind); our own for the rest. */
function yamlMessage(error: YAMLError): string {
  const first = error.message.split('\n')[0]!;
  switch (error.code) {
    case 'MISSING_CHAR':
      if (first.startsWith('Implicit map keys need to be followed by map values')) return "could not find expected ':'";
      if (first.startsWith('Sequence item without - indicator')) return "did not find expected '-' indicator";
      return first;
    case 'BLOCK_AS_IMPLICIT_KEY':
      // A block sequence where a key was expected; a mapping nested in a compact one.
      return first.startsWith('A block sequence') ? 'did not find expected key' : 'mapping values are not allowed in this context';
    case 'MULTILINE_IMPLICIT_KEY':
      return 'mapping values are not allowed in this context';
    case 'TAB_AS_INDENT':
      return 'found character that cannot start any token';
    case 'MULTIPLE_DOCS':
      return 'the file holds more than one YAML document (a second "---"); a cloud-config is one document';
    case 'RESOURCE_EXHAUSTION':
      return TOO_DEEP;
    default:
      return first;
  }
}

/** Parses one file. `file` names it in the entries. */
export function parseCloudConfig(text: string, file?: string, limits: ParseLimits = DEFAULT_PARSE_LIMITS): ParsedSource {
  const report = new Report(file);
  const kind = sourceKind(text);
  const done = (tree?: MapNode): ParsedSource => (tree ? { kind, tree, entries: report.entries } : { kind, entries: report.entries });
  switch (kind) {
    case 'empty':
    case 'script':
    case 'ignition':
      return done();
    case 'invalid':
      report.error(1, `must be "${HEADER}" or begin with "#!"`);
      return done();
    case 'cloud-config':
      break;
  }
  if (text.length > limits.maxChars) {
    report.error(1, `the file is too large: ${text.length} characters where at most ${limits.maxChars} are accepted`);
    return done();
  }
  const bad = NOT_TEXT.exec(text);
  if (bad) {
    const what = bad[0] === '\uFFFD' ? 'bytes that are not UTF-8'
      : `the control character 0x${bad[0].charCodeAt(0).toString(16).padStart(2, '0')}`;
    report.error(lineAt(text, bad.index), `not a text file: it contains ${what}; a cloud-config is UTF-8 YAML text`);
    return done();
  }

  // libyaml's scanner rules first: the reference refuses what they refuse.
  const scanned = libyamlScan(text);
  if (scanned.problem) {
    report.error(scanned.problem.line, scanned.problem.message);
    if (scanned.problem.message !== TOO_DEEP) report.warning(0, EMPTY_DOCUMENT_WARNING);
    return done();
  }
  const lines = new LineCounter();
  let doc;
  try {
    doc = parseDocument(scanned.text, { version: '1.1', lineCounter: lines, uniqueKeys: false, prettyErrors: false });
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    report.error(1, TOO_DEEP);
    return done();
  }
  const syntax = doc.errors[0];
  if (syntax) {
    report.error(lines.linePos(syntax.pos[0]).line, yamlMessage(syntax));
    // The reference goes on to check the empty document, which gives this warning.
    if (syntax.code !== 'RESOURCE_EXHAUSTION') report.warning(0, EMPTY_DOCUMENT_WARNING);
    return done();
  }
  const tree = buildTree(doc, lines, file, limits);
  if (!isTreeNode(tree)) {
    report.error(tree.line, tree.message);
    return done();
  }
  if (tree.kind === 'scalar' && tree.type === 'null') {
    return done({ kind: 'map', line: tree.line, file, pairs: [], size: 1, height: 1 });
  }
  if (tree.kind !== 'map') {
    const found = tree.kind === 'seq' ? 'a list' : 'a single value';
    report.error(tree.line, `a cloud-config is a map of keys to values, but this document is ${found}`);
    return done();
  }
  return done(tree);
}
