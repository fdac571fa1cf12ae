/**
 * The validation rules of one cloud-config document, in the reference's order and with its
 * wording: discovery URL, content encodings, structure (unknown keys, types, deprecations),
 * validity of values, files under /usr, and `write_files` misplaced under `coreos`.
 * Our own keys are checked in the validity rule with messages that name the fix, and our
 * own section strictly (schema `strict`): its unknown, misplaced and mistyped keys are errors,
 * scoped to the container they lie in.
 * Pure: no I/O.
 */
import { contentBytes, decodeContent, type Gunzip } from './encoding.js';
import { itemId } from './items.js';
import { isInside, resolveAbsolute } from './paths.js';
import type { Report } from './report.js';
import {
  child, childrenOf, humanType, isCompatible, isNull, present, type Named, type Schema, type StructSchema,
} from './schema.js';
import type { MapNode } from './tree.js';
import { editDistance } from '../text/edit-distance.js';

export interface RuleOptions {
  schema: StructSchema;
  gunzip: Gunzip;
}

/** Runs every rule on a document, adding entries to `report`. */
export function checkDocument(tree: MapNode, report: Report, options: RuleOptions): void {
  const root: Named = { name: '', line: 0, node: tree };
  checkDiscoveryUrl(tree, report);
  checkEncoding(root, report, options.gunzip);
  checkStructure(root, options.schema, report);
  checkValidity(root, options.schema, report);
  checkWriteFiles(root, report);
  checkWriteFilesUnderCoreos(tree, report);
}

/** Go's url.ParseRequestURI, as far as a discovery URL needs it. */
export function isRequestUri(text: string): boolean {
  if (text === '' || /[\u0000-\u001f\u007f]/.test(text) || /%(?![0-9a-fA-F]{2})/.test(text)) return false;
  if (text.startsWith('/')) return true;
  const m = /^[a-zA-Z][a-zA-Z0-9+.-]*:(.*)$/s.exec(text);
  if (!m) return false;
  const rest = m[1]!;
  if (!rest.startsWith('//')) return true;
  const authority = rest.slice(2).split(/[/?#]/, 1)[0]!;
  const host = authority.slice(authority.lastIndexOf('@') + 1);
  const port = /^(?:\[[^\]]*\]|[^:[\]]*)(?::(.*))?$/.exec(host);
  // Characters Go would have to escape in a host (a blank, `{`, `|`…) make it invalid.
  return port !== null && /^[0-9]*$/.test(port[1] ?? '') && !/[\u0020#/?@\\^`{|}]/.test(host);
}

function checkDiscoveryUrl(tree: MapNode, report: Report): void {
  const discovery = present(child(child(tree, 'coreos')?.node, 'etcd')?.node, 'discovery');
  if (!discovery) return;
  const { node } = discovery;
  if (node.kind !== 'scalar' || !isRequestUri(node.text)) report.warning(discovery.line, 'discovery URL is not valid');
}

function writeFiles(root: Named): Named[] {
  const files = child(root.node, 'write_files');
  return files ? childrenOf(files, true) : [];
}

function checkEncoding(root: Named, report: Report, gunzip: Gunzip): void {
  for (const file of writeFiles(root)) {
    const encoding = present(file.node, 'encoding');
    if (encoding?.node.kind !== 'scalar') continue;
    const content = present(file.node, 'content');
    const bytes = contentBytes(content?.node);
    if (bytes === undefined || decodeContent(bytes, encoding.node.text, gunzip) === undefined) {
      report.error(content?.line ?? encoding.line, `content cannot be decoded as ${JSON.stringify(encoding.node.text)}`);
    }
  }
}

/**
 * Where the structure is checked strictly (our own section): its schema, to say where a
 * misplaced key belongs, and the path of the node in the reports' words.
 */
interface Strict {
  root: StructSchema;
  rootPath: string;
  path: string;
}

function checkStructure(n: Named, schema: Schema, report: Report, strict?: Strict): void {
  if (strict === undefined && schema.kind === 'struct' && schema.strict) strict = { root: schema, rootPath: n.name.replaceAll('_', '-'), path: n.name.replaceAll('_', '-') };
  if (!isCompatible(n.node, schema)) {
    const message = `incorrect type for ${JSON.stringify(n.name)} (want ${humanType(schema)})`;
    if (strict) report.error(n.line, `${message}${typeHint(schema)}`);
    else report.warning(n.line, message);
    return;
  }
  switch (schema.kind) {
    case 'struct': {
      for (const c of childrenOf(n, true)) {
        const field = Object.hasOwn(schema.fields, c.name) ? schema.fields[c.name] : undefined;
        if (!field) {
          if (strict) report.error(c.line, unknownKeyMessage(c.name, schema, strict));
          else report.warning(c.line, `unrecognized key ${JSON.stringify(c.name)}`);
          continue;
        }
        if (field.deprecated) report.warning(c.line, `deprecated key ${JSON.stringify(c.name)} (${field.deprecated})`);
        checkStructure(c, field.schema, report, strict && { ...strict, path: `${strict.path}.${c.name.replaceAll('_', '-')}` });
      }
      return;
    }
    case 'list':
      for (const c of childrenOf(n, false)) {
        const name = schema.isolate !== undefined && schema.key !== undefined ? itemId(c.node, schema.key) : undefined;
        checkStructure(c, schema.of, name === undefined ? report : report.forItem(name), strict && { ...strict, path: `${strict.path}[]` });
      }
      return;
    case 'map':
      for (const c of childrenOf(n, false)) checkStructure(c, schema.of, report, strict && { ...strict, path: `${strict.path}.*` });
      return;
    default:
      return;
  }
}

/** How to write a value of the type, for the mistakes a strict section turns into errors. */
function typeHint(schema: Schema): string {
  if (schema.kind === 'list' && schema.of.kind === 'struct') {
    return `: write each item as a map of ${Object.keys(schema.of.fields).map((k) => k.replaceAll('_', '-')).join(', ')}`;
  }
  if (schema.kind === 'list') return ': write a list, one "- item" a line, or [a, b]';
  if (schema.kind === 'struct') return `: write a map of ${Object.keys(schema.fields).map((k) => k.replaceAll('_', '-')).join(', ')}`;
  return '';
}

/**
 * An unknown key of a strict section: the known key it is a typo of, else where it belongs
 * if it is misplaced, else the keys known here.
 */
function unknownKeyMessage(key: string, schema: StructSchema, strict: Strict): string {
  const spelt = (k: string) => k.replaceAll('_', '-');
  const near = Object.keys(schema.fields).find((k) => editDistance(k, key) <= Math.min(2, k.length >> 2 || 1));
  if (near !== undefined) return `unrecognized key ${JSON.stringify(spelt(key))} in ${strict.path}: did you mean "${spelt(near)}"?`;
  const places = placesOf(key, strict.root, strict.rootPath).filter((p) => p !== strict.path);
  if (places.length) return `misplaced key ${JSON.stringify(spelt(key))} in ${strict.path}: it belongs in ${places.join(' or ')} (check its indentation)`;
  return `unrecognized key ${JSON.stringify(spelt(key))} in ${strict.path} (known here: ${Object.keys(schema.fields).map(spelt).join(', ')})`;
}

/** The paths of the structs of `schema` that have the field `key`. */
function placesOf(key: string, schema: Schema, path: string): string[] {
  switch (schema.kind) {
    case 'struct':
      return [
        ...(Object.hasOwn(schema.fields, key) ? [path] : []),
        ...Object.entries(schema.fields).flatMap(([k, f]) => placesOf(key, f.schema, `${path}.${k.replaceAll('_', '-')}`)),
      ];
    case 'list':
      return placesOf(key, schema.of, `${path}[]`);
    default:
      return [];
  }
}

function checkValidity(n: Named, schema: Schema, report: Report): void {
  const { node } = n;
  if (!isCompatible(node, schema)) return;
  switch (schema.kind) {
    case 'string': {
      if (node.kind !== 'scalar' || node.text === '') return;
      if (schema.valid && !schema.valid.test(node.text)) report.error(n.line, `invalid value ${node.text}`);
      const problem = schema.check?.(node.text);
      if (problem) report.error(n.line, problem);
      return;
    }
    case 'int': {
      const problem = node.kind === 'scalar' ? schema.check?.(node.value as number) : undefined;
      if (problem) report.error(n.line, problem);
      return;
    }
    case 'struct':
      for (const c of childrenOf(n, true)) {
        const field = Object.hasOwn(schema.fields, c.name) ? schema.fields[c.name] : undefined;
        if (field) checkValidity(c, field.schema, report);
      }
      return;
    case 'list':
      if (schema.isolate !== undefined && schema.key !== undefined) {
        checkIsolatedItems(n, schema.of, schema.key, schema.isolate, report);
        return;
      }
      for (const c of childrenOf(n, false)) checkValidity(c, schema.of, report);
      return;
    case 'map':
      for (const c of childrenOf(n, false)) {
        const problem = schema.keyCheck?.(c.name);
        if (problem) report.error(c.line, problem);
        checkValidity(c, schema.of, report);
      }
      return;
    default:
      return;
  }
}

/**
 * Items that stand alone (containers): each one's entries carry its name, so an error
 * rejects that item only. A name given twice in one file rejects both: merging by name is
 * for drop-in files, and within one file it would hide a copy-paste mistake.
 */
function checkIsolatedItems(n: Named, of: Schema, key: string, noun: string, report: Report): void {
  const lines = new Map<string, number>();
  for (const c of childrenOf(n, false)) {
    const name = itemId(c.node, key);
    if (name === undefined) {
      checkValidity(c, of, report);
      continue;
    }
    const scoped = report.forItem(name);
    const earlier = lines.get(name);
    if (earlier !== undefined) {
      scoped.error(c.line, `${noun} "${name}" is declared twice in this file (also at line ${earlier}); give each ${noun} its own ${key}, or change it from a drop-in file`);
    } else {
      lines.set(name, c.line);
    }
    checkValidity(c, of, scoped);
  }
}

/**
 * Files under /usr (and `/usr/`) cannot be written: /usr is read-only. The path is judged once resolved
 * (`/etc/../usr/x` and the relative `usr/x`, which is written from /, are under /usr).
 */
function checkWriteFiles(root: Named, report: Report): void {
  for (const file of writeFiles(root)) {
    const path = present(file.node, 'path');
    if (path?.node.kind !== 'scalar') continue;
    const resolved = resolveAbsolute(path.node.text);
    if (isInside(resolved, '/usr') || (resolved === '/usr' && path.node.text.endsWith('/'))) {
      report.error(path.line, 'file cannot be written to a read-only filesystem');
    }
  }
}

function checkWriteFilesUnderCoreos(tree: MapNode, report: Report): void {
  const misplaced = child(child(tree, 'coreos')?.node, 'write_files');
  if (misplaced && !isNull(misplaced.node)) report.info(misplaced.line, "write_files doesn't belong under coreos");
}

