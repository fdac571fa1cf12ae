/**
 * A small, strict XML reader and writer for the subset Omaha 3.0 uses: an optional
 * `<?xml …?>` declaration, elements with single- or double-quoted attributes, the five
 * predefined entities and numeric character references, comments and whitespace between
 * elements. Anything else — a DOCTYPE (entity expansion), CDATA, processing instructions
 * inside the document, mismatched or unclosed tags, duplicate attributes, text content
 * other than whitespace — is refused with the offset where it happened. Pure.
 */

export interface XmlElement {
  name: string;
  attributes: Readonly<Record<string, string>>;
  children: XmlElement[];
}

/** Thrown for input outside the subset; `offset` is where reading stopped. */
export class XmlSyntaxError extends Error {
  constructor(message: string, readonly offset: number) {
    super(`${message} at offset ${offset}`);
    this.name = 'XmlSyntaxError';
  }
}

const NAME = /[A-Za-z_][A-Za-z0-9_.:-]*/y;
const SPACE = /[ \t\r\n]*/y;
const ENTITIES: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** Text with its references resolved; `at` is the text's offset, for errors. */
function decodeText(text: string, at: number): string {
  return text.replace(/&([^;]*);|&/g, (whole: string, ref: string | undefined, pos: number) => {
    if (ref === undefined) throw new XmlSyntaxError('a bare "&" (write &amp;)', at + pos);
    const code = /^#x[0-9a-fA-F]{1,6}$/.test(ref) ? parseInt(ref.slice(2), 16) : /^#[0-9]{1,7}$/.test(ref) ? parseInt(ref.slice(1), 10) : undefined;
    if (code !== undefined) {
      if (code === 0 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) throw new XmlSyntaxError(`the character reference ${whole} names no character`, at + pos);
      return String.fromCodePoint(code);
    }
    const named = ENTITIES[ref];
    if (named === undefined) throw new XmlSyntaxError(`the entity ${whole} is not one of &amp; &lt; &gt; &quot; &apos;`, at + pos);
    return named;
  });
}

class Reader {
  pos = 0;
  constructor(readonly text: string) {}

  fail(message: string): never {
    throw new XmlSyntaxError(message, this.pos);
  }

  space(): void {
    SPACE.lastIndex = this.pos;
    SPACE.exec(this.text);
    this.pos = SPACE.lastIndex;
  }

  /** Whitespace and comments between elements. */
  misc(): void {
    for (;;) {
      this.space();
      if (!this.text.startsWith('<!--', this.pos)) return;
      const end = this.text.indexOf('-->', this.pos + 4);
      if (end < 0) this.fail('an unclosed comment');
      this.pos = end + 3;
    }
  }

  name(): string {
    NAME.lastIndex = this.pos;
    const m = NAME.exec(this.text);
    if (!m) this.fail('a name was expected');
    this.pos = NAME.lastIndex;
    return m[0];
  }

  expect(s: string): void {
    if (!this.text.startsWith(s, this.pos)) this.fail(`"${s}" was expected`);
    this.pos += s.length;
  }

  element(depth: number): XmlElement {
    if (depth > 32) this.fail('elements nested deeper than 32');
    this.expect('<');
    const name = this.name();
    const attributes: Record<string, string> = {};
    for (;;) {
      const before = this.pos;
      this.space();
      if (this.text.startsWith('/>', this.pos)) {
        this.pos += 2;
        return { name, attributes, children: [] };
      }
      if (this.text.startsWith('>', this.pos)) {
        this.pos += 1;
        break;
      }
      if (this.pos === before) this.fail('whitespace before an attribute was expected');
      const attr = this.name();
      if (Object.hasOwn(attributes, attr)) this.fail(`the attribute ${attr} appears twice`);
      this.space();
      this.expect('=');
      this.space();
      const quote = this.text[this.pos];
      if (quote !== '"' && quote !== "'") this.fail(`the value of ${attr} must be quoted`);
      const end = this.text.indexOf(quote, this.pos + 1);
      if (end < 0) this.fail(`the value of ${attr} is not closed`);
      const raw = this.text.slice(this.pos + 1, end);
      if (raw.includes('<')) this.fail(`"<" in the value of ${attr}`);
      attributes[attr] = decodeText(raw, this.pos + 1);
      this.pos = end + 1;
    }
    const children: XmlElement[] = [];
    for (;;) {
      const textStart = this.pos;
      const next = this.text.indexOf('<', this.pos);
      if (next < 0) this.fail(`<${name}> is not closed`);
      if (this.text.slice(textStart, next).trim() !== '') this.fail(`text inside <${name}> (only elements are expected)`);
      this.pos = next;
      if (this.text.startsWith('<!--', this.pos)) {
        this.misc();
        continue;
      }
      if (this.text.startsWith('</', this.pos)) {
        this.pos += 2;
        const closing = this.name();
        if (closing !== name) this.fail(`</${closing}> closes <${name}>`);
        this.space();
        this.expect('>');
        return { name, attributes, children };
      }
      if (this.text.startsWith('<!', this.pos) || this.text.startsWith('<?', this.pos)) this.fail('CDATA, DOCTYPE and processing instructions are not accepted');
      children.push(this.element(depth + 1));
    }
  }
}

/** The document's root element. */
export function parseXml(text: string): XmlElement {
  const r = new Reader(text.startsWith('\ufeff') ? text.slice(1) : text);
  if (r.text.startsWith('<?xml')) {
    const end = r.text.indexOf('?>');
    if (end < 0) r.fail('an unclosed XML declaration');
    if (!/^<\?xml\s+version=(["'])1\.[0-9]\1(\s+encoding=(["'])utf-8\3)?(\s+standalone=(["'])(yes|no)\5)?\s*\?>$/i.test(r.text.slice(0, end + 2))) {
      r.fail('the XML declaration must name version 1.x and, if any, the UTF-8 encoding');
    }
    r.pos = end + 2;
  }
  r.misc();
  if (r.text.startsWith('<!', r.pos) || r.text.startsWith('<?', r.pos)) r.fail('DOCTYPE and processing instructions are not accepted');
  if (r.pos >= r.text.length) r.fail('the document is empty');
  const root = r.element(0);
  r.misc();
  if (r.pos !== r.text.length) r.fail('content after the root element');
  return root;
}

/** `s` with `&`, `<`, `>`, `"` and `'` escaped, for attribute values. */
export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&${({ '&': 'amp', '<': 'lt', '>': 'gt', '"': 'quot', "'": 'apos' } as Record<string, string>)[c]};`);
}

/** The element's children named `name`. */
export function childrenNamed(e: XmlElement, name: string): XmlElement[] {
  return e.children.filter((c) => c.name === name);
}

/** The first element at `path` below `e` (each step the first child of that name). */
export function findPath(e: XmlElement, ...path: string[]): XmlElement | undefined {
  let at: XmlElement | undefined = e;
  for (const step of path) at = at && childrenNamed(at, step)[0];
  return at;
}
