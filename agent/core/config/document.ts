/**
 * The effective configuration as a cloud-config document (`agentctl config show`): the
 * merged tree of the files as plain data, keys as written, that validates as the files did.
 * A scalar keeps what its field reads: a string field its text (`0744` stays "0744"), a
 * number or bool field its value; a `!!binary` scalar its bytes. Pure: no I/O.
 */
import { normalizeKey, type Schema } from './schema.js';
import type { TreeNode } from './tree.js';

export type PlainValue = string | number | boolean | null | Uint8Array | PlainValue[] | { [key: string]: PlainValue };

/** `node` as plain data, read by `schema` (undefined for keys the schema does not know). */
export function plainDocument(node: TreeNode, schema: Schema | undefined): PlainValue {
  switch (node.kind) {
    case 'map': {
      const out: Record<string, PlainValue> = {};
      for (const p of node.pairs) {
        const field = schema?.kind === 'map' ? schema.of
          : schema?.kind === 'struct' && Object.hasOwn(schema.fields, normalizeKey(p.key)) ? schema.fields[normalizeKey(p.key)]!.schema : undefined;
        out[p.key] = plainDocument(p.value, field);
      }
      return out;
    }
    case 'seq':
      return node.items.map((item) => plainDocument(item, schema?.kind === 'list' ? schema.of : undefined));
    case 'scalar':
      if (node.type === 'binary' && node.bytes) return node.bytes;
      if (node.type === 'null') return null;
      return schema?.kind === 'string' ? node.text : node.value;
  }
}
