/**
 * Named items of lists (units by `name`, write_files by `path`…): the identity of an item,
 * and a document without the items of isolated lists (containers) that were rejected, so
 * a rejected container neither merges into nor is read from the configuration.
 * Pure: no I/O.
 */
import { resolveAbsolute } from './paths.js';
import { normalizeKey, present, type Schema } from './schema.js';
import { measure, type MapNode, type TreeNode } from './tree.js';

/** The identity of a named item: its key's text (a path resolved), or undefined when unnamed. */
export function itemId(item: TreeNode, key: string): string | undefined {
  const named = present(item, key);
  if (named?.node.kind !== 'scalar' || named.node.text === '') return undefined;
  return key === 'path' ? resolveAbsolute(named.node.text) : named.node.text;
}

/** `tree` without the items of isolated lists whose name is in `rejected`; unchanged nodes are shared. */
export function withoutRejected(tree: MapNode, schema: Schema, rejected: ReadonlySet<string>): MapNode {
  return rejected.size === 0 ? tree : prune(tree, schema, rejected) as MapNode;
}

function prune(node: TreeNode, schema: Schema, rejected: ReadonlySet<string>): TreeNode {
  if (schema.kind === 'struct' && node.kind === 'map') {
    const pairs = node.pairs.map((p) => {
      const key = normalizeKey(p.key);
      const field = Object.hasOwn(schema.fields, key) ? schema.fields[key]!.schema : undefined;
      const value = field ? prune(p.value, field, rejected) : p.value;
      return value === p.value ? p : { ...p, value };
    });
    return pairs.every((p, i) => p === node.pairs[i]) ? node : { ...node, pairs, ...measure(pairs.map((p) => p.value)) };
  }
  if (schema.kind === 'list' && schema.isolate !== undefined && schema.key !== undefined && node.kind === 'seq') {
    const key = schema.key;
    const items = node.items.filter((item) => !rejected.has(itemId(item, key) ?? ''));
    return items.length === node.items.length ? node : { ...node, items, ...measure(items) };
  }
  return node;
}
