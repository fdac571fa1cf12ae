/**
 * The shape language of the cloud-config schema, and how a YAML node is matched against it,
 * with the reference validator's type rules: a string field takes any scalar (its text is
 * used), a float takes ints, a struct takes a map; bool, int and lists take only their own
 * kind; a null (`key:` with no value) matches nothing. Keys are compared with `-` read as `_`.
 * Pure: no I/O.
 */
import type { ScalarNode, TreeNode } from './tree.js';

/** A check of one value of ours: the message of the error, or undefined when it is fine. */
export type ValueCheck<T> = (value: T) => string | undefined;

export type Schema =
  | { kind: 'string'; valid?: RegExp; check?: ValueCheck<string> }
  | { kind: 'int'; check?: ValueCheck<number> }
  | { kind: 'float' }
  | { kind: 'bool' }
  /**
   * `strict`: our own section (`host-agent:`). In it an unknown key, a misplaced key or a
   * wrong type is an error, not the reference's warning: a typo there must never be read
   * as "not declared" (and remove or change a running container).
   */
  | { kind: 'struct'; fields: Readonly<Record<string, Field>>; strict?: boolean }
  /**
   * `key`: the field that names an item, for merging drop-ins (units by `name`…).
   * `isolate`: what an item is called in messages (`container`) when each item stands
   * alone: an error inside one rejects that item, not the configuration.
   */
  | { kind: 'list'; of: Schema; key?: string; isolate?: string }
  /** Free-form keys (environment variables): keys are kept as written. */
  | { kind: 'map'; of: Schema; keyCheck?: ValueCheck<string> };

export type StructSchema = Extract<Schema, { kind: 'struct' }>;

export interface Field {
  schema: Schema;
  /** Why the key is deprecated; its use gives a warning. */
  deprecated?: string;
}

/** A node with the name the reports use: its key, or `parent[i]` for a list item. */
export interface Named {
  name: string;
  /** Line of the key, or of the list item. */
  line: number;
  node: TreeNode;
}

/** The key as the schema spells it. */
export function normalizeKey(key: string): string {
  return key.includes('-') ? key.replaceAll('-', '_') : key;
}

/** The type in the reference's words: `string`, `[]struct`… */
export function humanType(schema: Schema): string {
  switch (schema.kind) {
    case 'list':
      return `[]${humanType(schema.of)}`;
    case 'float':
      return 'float64';
    default:
      return schema.kind;
  }
}

/** Whether the node can be read as the schema's type. */
export function isCompatible(node: TreeNode, schema: Schema): boolean {
  switch (schema.kind) {
    case 'string':
      return node.kind === 'scalar' && node.type !== 'null';
    case 'float':
      return node.kind === 'scalar' && (node.type === 'float' || node.type === 'int');
    case 'int':
      return node.kind === 'scalar' && node.type === 'int';
    case 'bool':
      return node.kind === 'scalar' && node.type === 'bool';
    case 'struct':
    case 'map':
      return node.kind === 'map';
    case 'list':
      return node.kind === 'seq';
  }
}

/** The children of a map or list, named as the reports name them. */
export function childrenOf(parent: Named, normalize: boolean): Named[] {
  const { node } = parent;
  if (node.kind === 'map') {
    return node.pairs.map((p) => ({ name: normalize ? normalizeKey(p.key) : p.key, line: p.line, node: p.value }));
  }
  if (node.kind === 'seq') {
    return node.items.map((item, i) => ({ name: `${parent.name}[${i}]`, line: item.line, node: item }));
  }
  return [];
}

/** The value of `key` in a map node (the last one when a key is repeated). */
export function child(node: TreeNode | undefined, key: string): Named | undefined {
  if (node?.kind !== 'map') return undefined;
  for (let i = node.pairs.length - 1; i >= 0; i--) {
    const p = node.pairs[i]!;
    if (normalizeKey(p.key) === key) return { name: key, line: p.line, node: p.value };
  }
  return undefined;
}

/** A child that holds a value (not missing, not null). */
export function present(node: TreeNode | undefined, key: string): Named | undefined {
  const c = child(node, key);
  return c && !(c.node.kind === 'scalar' && c.node.type === 'null') ? c : undefined;
}

export function isNull(node: TreeNode): node is ScalarNode {
  return node.kind === 'scalar' && node.type === 'null';
}

// Constructors, so schemas read like the YAML they describe.
export const str = (extra: { valid?: RegExp; check?: ValueCheck<string> } = {}): Schema => ({ kind: 'string', ...extra });
export const int = (check?: ValueCheck<number>): Schema => (check ? { kind: 'int', check } : { kind: 'int' });
export const float = (): Schema => ({ kind: 'float' });
export const bool = (): Schema => ({ kind: 'bool' });
export const struct = (fields: Record<string, Field | Schema>): StructSchema => ({
  kind: 'struct',
  fields: Object.fromEntries(Object.entries(fields).map(([k, f]) => [k, 'schema' in f ? f : { schema: f }])),
});
/** A struct whose subtree is checked strictly (see Schema `strict`): our own section. */
export const strictStruct = (fields: Record<string, Field | Schema>): StructSchema => ({ ...struct(fields), strict: true });
export const list = (of: Schema, key?: string): Schema => (key ? { kind: 'list', of, key } : { kind: 'list', of });
/** Named items that stand alone (see Schema `isolate`), e.g. `isolatedList(container, 'name', 'container')`. */
export const isolatedList = (of: Schema, key: string, noun: string): Schema => ({ kind: 'list', of, key, isolate: noun });
export const deprecated = (schema: Schema, why: string): Field => ({ schema, deprecated: why });

/** The same deprecation for every field of `fields`. */
export function deprecatedAll(why: string, fields: Record<string, Schema>): Record<string, Field> {
  return Object.fromEntries(Object.entries(fields).map(([name, schema]) => [name, deprecated(schema, why)]));
}

/** Fields of one type, for the long flat sections (etcd, fleet…). */
export function fieldsOf(schema: () => Schema, names: string): Record<string, Schema> {
  return Object.fromEntries(names.trim().split(/\s+/).map((n) => [n, schema()]));
}
