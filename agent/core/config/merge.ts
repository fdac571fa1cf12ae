/**
 * Merging the files of a configuration (shipped drop-ins, main file, admin drop-ins) into one
 * document, later files winning. Maps of known keys merge key by key (`-` and `_` the same);
 * lists of named items merge item by item, by their name (units and drop-ins by `name`,
 * write_files by resolved `path`, users by `name`, containers by `name`, trust by `prefix`),
 * also within one file; every other value (scalars, plain lists such as `exec` or
 * `ssh_authorized_keys`) is replaced whole. A key written without a value (`key:`) changes
 * nothing. Every node keeps the file and line it came from.
 * Pure: no I/O.
 */
import { itemId } from './items.js';
import { isNull, normalizeKey, type Schema, type StructSchema } from './schema.js';
import { measure, type MapNode, type MapPair, type SeqNode, type TreeNode } from './tree.js';

/** Merges documents, the last one winning. */
export function mergeTrees(trees: readonly MapNode[], schema: StructSchema): MapNode {
  const empty: MapNode = { kind: 'map', line: 0, file: undefined, pairs: [], size: 1, height: 1 };
  return trees.reduce((merged, tree) => mergeMaps(merged, tree, schema), empty);
}

function mergeNode(a: TreeNode | undefined, b: TreeNode, schema: Schema | undefined): TreeNode {
  if (isNull(b) && a !== undefined) return a;
  const base = a === undefined || isNull(a) ? undefined : a;
  if ((schema?.kind === 'struct' || schema?.kind === 'map') && b.kind === 'map') {
    return mergeMaps(base?.kind === 'map' ? base : { ...b, pairs: [] }, b, schema);
  }
  if (schema?.kind === 'list' && schema.key !== undefined && b.kind === 'seq') {
    const earlier = base?.kind === 'seq' ? base.items : [];
    return seq(b, foldNamed([...earlier, ...b.items], schema.of, schema.key));
  }
  return b;
}

/** `b`'s pairs over `a`'s, each known key merged by its schema. Keys keep their first place. */
function mergeMaps(a: MapNode, b: MapNode, schema: Extract<Schema, { kind: 'struct' | 'map' }>): MapNode {
  const free = schema.kind === 'map';
  const id = (key: string) => (free ? key : normalizeKey(key));
  const pairs: MapPair[] = [];
  const index = new Map<string, number>();
  for (const pair of [...a.pairs, ...b.pairs]) {
    const key = id(pair.key);
    const field = free ? schema.of : Object.hasOwn(schema.fields, key) ? schema.fields[key]!.schema : undefined;
    const at = index.get(key);
    if (at === undefined) {
      index.set(key, pairs.length);
      pairs.push({ ...pair, value: mergeNode(undefined, pair.value, field) });
    } else {
      const value = mergeNode(pairs[at]!.value, pair.value, field);
      pairs[at] = value === pairs[at]!.value ? pairs[at]! : { ...pair, value };
    }
  }
  return { kind: 'map', line: b.line, file: b.file, pairs, ...measure(pairs.map((p) => p.value)) };
}

/** Items with the same name merged into the first one's place; unnamed items kept as they are. */
function foldNamed(items: readonly TreeNode[], of: Schema, key: string): TreeNode[] {
  const out: TreeNode[] = [];
  const index = new Map<string, number>();
  for (const item of items) {
    const id = itemId(item, key);
    const at = id === undefined ? undefined : index.get(id);
    if (at === undefined) {
      if (id !== undefined) index.set(id, out.length);
      out.push(mergeNode(undefined, item, of));
    } else {
      out[at] = mergeNode(out[at], item, of);
    }
  }
  return out;
}

function seq(like: SeqNode, items: TreeNode[]): SeqNode {
  return { kind: 'seq', line: like.line, file: like.file, items, ...measure(items) };
}
