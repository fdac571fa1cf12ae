/**
 * Extraction of the appc discovery `<meta>` tags from an HTML page: `ac-discovery` and
 * `ac-discovery-pubkeys` (any `name` starting with `ac-`), each `content` being
 * `PREFIX URI`. A small tokenizer in the manner of golang.org/x/net/html: tag and attribute
 * names are case-insensitive, comments and raw-text elements (script, style, …) are
 * skipped, character references in attribute values are decoded. Pure: no I/O.
 */

export interface DiscoveryMeta {
  /** The meta tag's name, e.g. `ac-discovery`. */
  name: string;
  /** The name prefix the tag applies to. */
  prefix: string;
  /** The URL template (`ac-discovery`) or key URL (`ac-discovery-pubkeys`). */
  uri: string;
}

const RAW_TEXT = new Set(['iframe', 'noembed', 'noframes', 'noscript', 'plaintext', 'script', 'style', 'textarea', 'title', 'xmp']);
const NAMED_REFS: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };
const SPACE = /[\t\n\f\r ]/;

function decodeReferences(text: string): string {
  return text.replace(/&(#[0-9]+|#[xX][0-9A-Fa-f]+|[A-Za-z]+);?/g, (whole, ref: string) => {
    if (ref.startsWith('#')) {
      const code = ref[1] === 'x' || ref[1] === 'X' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : '\ufffd';
    }
    return Object.hasOwn(NAMED_REFS, ref) ? NAMED_REFS[ref] : whole;
  });
}

/** Reads the attributes of a start tag from `i` (after the tag name) to its `>`. */
function readAttributes(html: string, start: number): { attrs: [string, string][]; end: number } {
  const attrs: [string, string][] = [];
  let i = start;
  for (;;) {
    while (i < html.length && (SPACE.test(html[i]) || html[i] === '/')) i++;
    if (i >= html.length || html[i] === '>') return { attrs, end: i + 1 };
    let j = i;
    while (j < html.length && !SPACE.test(html[j]) && !'/>='.includes(html[j])) j++;
    if (j === i) j++; // a lone "=" starts an attribute name, as in the HTML spec
    const key = html.slice(i, j).toLowerCase();
    i = j;
    while (i < html.length && SPACE.test(html[i])) i++;
    let value = '';
    if (html[i] === '=') {
      i++;
      while (i < html.length && SPACE.test(html[i])) i++;
      const q = html[i];
      if (q === '"' || q === "'") {
        const close = html.indexOf(q, i + 1);
        const stop = close < 0 ? html.length : close;
        value = html.slice(i + 1, stop);
        i = stop + 1;
      } else {
        j = i;
        while (j < html.length && !SPACE.test(html[j]) && html[j] !== '>') j++;
        value = html.slice(i, j);
        i = j;
      }
    }
    attrs.push([key, decodeReferences(value)]);
  }
}

/** The `ac-*` meta tags of `html`, in document order. */
export function extractDiscoveryMeta(html: string): DiscoveryMeta[] {
  const found: DiscoveryMeta[] = [];
  let i = 0;
  while ((i = html.indexOf('<', i)) >= 0) {
    if (html.startsWith('<!--', i)) {
      const close = html.indexOf('-->', i + 4);
      i = close < 0 ? html.length : close + 3;
      continue;
    }
    const tagAt = /<([A-Za-z][^\t\n\f\r />]*)/y;
    tagAt.lastIndex = i;
    const tag = tagAt.exec(html);
    if (!tag) {
      i++;
      continue;
    }
    const name = tag[1].toLowerCase();
    const { attrs, end } = readAttributes(html, i + tag[0].length);
    i = end;
    if (name === 'meta') {
      const meta = toMeta(attrs);
      if (meta) found.push(meta);
    } else if (RAW_TEXT.has(name)) {
      const closing = new RegExp(`</${name}`, 'gi');
      closing.lastIndex = i;
      i = closing.exec(html)?.index ?? html.length;
    }
  }
  return found;
}

function toMeta(attrs: readonly [string, string][]): DiscoveryMeta | undefined {
  let name = '';
  let prefix = '';
  let uri = '';
  for (const [key, value] of attrs) {
    if (key === 'name') name = value;
    if (key === 'content') {
      const content = value.trim();
      const space = content.indexOf(' ');
      if (space < 0) continue;
      prefix = content.slice(0, space);
      uri = content.slice(space + 1).trim();
    }
  }
  return name.startsWith('ac-') && prefix !== '' && uri !== '' ? { name, prefix, uri } : undefined;
}
