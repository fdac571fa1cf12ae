/**
 * The YAML tree the rules read: maps, sequences and scalars with the line (and file) each
 * came from, built from a `yaml` Document. Scalars keep their YAML 1.1 type, as the
 * reference's "weak" parse does (`0744` is an int, `off` a bool), and their source text,
 * which a field that wants a string uses (`off` stays "off", `0744` stays "0744").
 *
 * A key written twice in a map keeps its first place and line and takes the later value.
 *
 * Building resolves aliases and `<<` merge keys under limits, so hostile input ends in a
 * report entry instead of a hang: aliases share the node they point to, and the number of
 * nodes they add (the "billion laughs" growth) and the nesting depth are bounded.
 * Pure: no I/O.
 */
import { Alias, Document, isAlias, isMap, isPair, isScalar, isSeq, LineCounter, Scalar } from 'yaml';
import type { Node as YamlNode, Pair as YamlPair } from 'yaml';

export type ScalarType = 'null' | 'bool' | 'int' | 'float' | 'string' | 'binary';

interface NodeBase {
  /** 1-based line where the node starts. */
  line: number;
  file: string | undefined;
  /** Nodes in this subtree, aliases counted at their full size. */
  size: number;
  /** Levels of nesting below and including this node. */
  height: number;
}

export interface ScalarNode extends NodeBase {
  kind: 'scalar';
  type: ScalarType;
  /** The scalar as written (after unquoting and folding); for `!!binary`, the base64 text. */
  text: string;
  /** The decoded bytes of a `!!binary` scalar. */
  bytes?: Uint8Array;
  value: string | number | boolean | null;
}

export interface MapPair {
  /** The key as written. */
  key: string;
  /** Line of the key. */
  line: number;
  value: TreeNode;
}

export interface MapNode extends NodeBase {
  kind: 'map';
  pairs: MapPair[];
}

export interface SeqNode extends NodeBase {
  kind: 'seq';
  items: TreeNode[];
}

export type TreeNode = ScalarNode | MapNode | SeqNode;

export interface TreeLimits {
  /** Deepest nesting accepted (a cloud-config needs fewer than 10 levels). */
  maxDepth: number;
  /** Most nodes that aliases may add to the document. */
  maxAliasNodes: number;
}

export const DEFAULT_TREE_LIMITS: TreeLimits = { maxDepth: 64, maxAliasNodes: 100_000 };

/** A problem that stops the build: the tree is not used and this becomes one error entry. */
export interface TreeProblem {
  line: number;
  message: string;
}

/** Size and height of a node with these children. */
export function measure(children: readonly TreeNode[]): { size: number; height: number } {
  let size = 1;
  let height = 0;
  for (const c of children) {
    size += c.size;
    if (c.height > height) height = c.height;
  }
  return { size, height: height + 1 };
}

function scalarNode(type: ScalarType, value: ScalarNode['value'], text: string, line: number, file: string | undefined): ScalarNode {
  return { kind: 'scalar', type, line, file, size: 1, height: 1, text, value };
}

const INT_TEXT = /^[-+]?(?:[0-9][0-9_]*|0x[0-9a-fA-F_]+|0b[01_]+)$/;

/** Builds the tree of a parsed document, or says why it cannot be used. */
export function buildTree(
  doc: Document.Parsed,
  lines: LineCounter,
  file: string | undefined,
  limits: TreeLimits = DEFAULT_TREE_LIMITS,
): TreeNode | TreeProblem {
  const built = new Map<YamlNode, TreeNode>();
  const building = new Set<YamlNode>();
  let aliasNodes = 0;
  const lineOf = (offset: number | undefined): number => (offset === undefined ? 0 : lines.linePos(offset).line);

  class Stop {
    constructor(readonly problem: TreeProblem) {}
  }
  const stop = (line: number, message: string): never => {
    throw new Stop({ line, message });
  };

  const scalar = (node: Scalar, line: number): ScalarNode => {
    const v: unknown = node.value;
    const source = (node as { source?: unknown }).source;
    const text = typeof source === 'string' ? source : v === null || v === undefined ? '' : String(v);
    if (v === null || v === undefined) return scalarNode('null', null, text, line, file);
    if (typeof v === 'boolean') return scalarNode('bool', v, text, line, file);
    if (typeof v === 'number') return scalarNode(INT_TEXT.test(text) ? 'int' : 'float', v, text, line, file);
    if (v instanceof Uint8Array) return { ...scalarNode('binary', text, text, line, file), bytes: v };
    // Strings, and timestamps, which the reference's YAML library leaves as strings.
    return scalarNode('string', text, text, line, file);
  };

  const nullAt = (line: number): ScalarNode => scalarNode('null', null, '', line, file);

  const resolveAlias = (alias: Alias, depth: number): TreeNode => {
    const line = lineOf(alias.range?.[0]);
    const target = alias.resolve(doc);
    if (target === undefined) return stop(line, `unknown anchor '${alias.source}' referenced`);
    if (building.has(target)) return stop(line, `alias *${alias.source} refers to a node that contains it`);
    const node = build(target, depth);
    if (depth + node.height - 1 > limits.maxDepth) {
      stop(line, `alias *${alias.source} nests deeper than ${limits.maxDepth} levels; write the structure out without aliases`);
    }
    aliasNodes += node.size;
    if (aliasNodes > limits.maxAliasNodes) {
      stop(line, `aliases expand the document by more than ${limits.maxAliasNodes} nodes ` +
        '(an exponential "YAML bomb"?); use fewer or less nested aliases');
    }
    return node;
  };

  /** The pairs a `<<` merge key brings in: from one map or a list of maps. */
  const mergeSources = (value: unknown, depth: number, line: number): MapNode[] => {
    const one = (v: unknown): MapNode => {
      const node = isAlias(v) ? resolveAlias(v, depth) : build(v as YamlNode, depth);
      return node.kind === 'map' ? node : stop(line, 'a merge key "<<" must be followed by a map or a list of maps');
    };
    return isSeq(value) ? value.items.map(one) : [one(value)];
  };

  const mapNode = (pairs: readonly unknown[], line: number, depth: number): MapNode => {
    const own: MapPair[] = [];
    const at = new Map<string, number>();
    const merged: MapPair[] = [];
    for (const item of pairs) {
      if (!isPair(item)) continue;
      const pair = item as YamlPair<unknown, unknown>;
      const keyNode = pair.key;
      const keyLine = isScalar(keyNode) || isMap(keyNode) || isSeq(keyNode) || isAlias(keyNode)
        ? lineOf((keyNode as YamlNode).range?.[0]) : line;
      if (isScalar(keyNode) && typeof keyNode.value === 'symbol') {
        for (const source of mergeSources(pair.value, depth, keyLine)) merged.push(...source.pairs);
        continue;
      }
      const key = isScalar(keyNode) ? scalar(keyNode, keyLine).text : keyNode === null ? '' : String(keyNode);
      const value = pair.value === null || pair.value === undefined
        ? nullAt(keyLine)
        : isAlias(pair.value) ? resolveAlias(pair.value, depth + 1) : build(pair.value as YamlNode, depth + 1);
      // A key written twice: the later value wins, at the line of the first, as the
      // reference's YAML decoder and line finder have it.
      const earlier = at.get(key);
      if (earlier !== undefined) own[earlier] = { ...own[earlier]!, value };
      else at.set(key, own.push({ key, line: keyLine, value }) - 1);
    }
    // Keys written in the map win over merged ones; among merged maps, the first wins.
    const all = [...own];
    const seen = new Set(own.map((p) => p.key));
    for (const p of merged) {
      if (seen.has(p.key)) continue;
      seen.add(p.key);
      all.push(p);
    }
    return { kind: 'map', line, file, pairs: all, ...measure(all.map((p) => p.value)) };
  };

  const build = (node: YamlNode, depth: number): TreeNode => {
    const done = built.get(node);
    if (done) return done;
    const line = lineOf(node.range?.[0]);
    if (depth > limits.maxDepth) stop(line, `nesting deeper than ${limits.maxDepth} levels`);
    let result: TreeNode;
    building.add(node);
    if (isMap(node)) {
      result = mapNode(node.items, line, depth);
    } else if (isSeq(node)) {
      const items = node.items.map((item) =>
        item === null || item === undefined ? nullAt(line)
          : isAlias(item) ? resolveAlias(item, depth + 1) : build(item as YamlNode, depth + 1));
      result = { kind: 'seq', line, file, items, ...measure(items) };
    } else if (isScalar(node)) {
      result = scalar(node, line);
    } else if (isAlias(node)) {
      result = resolveAlias(node, depth);
    } else {
      result = nullAt(line);
    }
    building.delete(node);
    built.set(node, result);
    return result;
  };

  try {
    const contents = doc.contents;
    if (contents === null) return { kind: 'map', line: 0, file, pairs: [], size: 1, height: 1 };
    return build(contents, 1);
  } catch (e) {
    if (e instanceof Stop) return e.problem;
    throw e;
  }
}

export function isTreeNode(value: TreeNode | TreeProblem): value is TreeNode {
  return 'kind' in value;
}
