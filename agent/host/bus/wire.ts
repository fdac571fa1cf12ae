/**
 * D-Bus wire format (little-endian), just enough for agentctl's lean client: marshal a
 * method call, unmarshal replies, errors and signals with basic types, arrays, structs
 * and variants. agentd itself uses dbus-next; agentctl must start in a few milliseconds,
 * and loading dbus-next alone costs more than node's own start (docs/benchmarks.md).
 */
import type { MethodCall } from '../../api/method-call.js';
import { splitSignature } from '../../api/signature.js';

export const enum MessageType {
  MethodCall = 1,
  MethodReturn = 2,
  Error = 3,
  Signal = 4,
}

const enum Field {
  Path = 1,
  Interface = 2,
  Member = 3,
  ErrorName = 4,
  ReplySerial = 5,
  Destination = 6,
  Sender = 7,
  Signature = 8,
}

export interface CallMessage extends MethodCall {
  serial: number;
}

export interface ReceivedMessage {
  type: MessageType;
  serial: number;
  replySerial?: number;
  errorName?: string;
  path?: string;
  interface?: string;
  member?: string;
  sender?: string;
  signature: string;
  body: unknown[];
}

const ALIGN: Record<string, number> = {
  y: 1, b: 4, n: 2, q: 2, i: 4, u: 4, x: 8, t: 8, d: 8, h: 4, s: 4, o: 4, g: 1, a: 4, '(': 8, '{': 8, v: 1,
};

class Writer {
  private chunks: Buffer[] = [];
  length = 0;

  private push(b: Buffer): void {
    this.chunks.push(b);
    this.length += b.length;
  }

  align(n: number): void {
    const pad = (n - (this.length % n)) % n;
    if (pad) this.push(Buffer.alloc(pad));
  }

  byte(v: number): void {
    this.push(Buffer.from([v]));
  }

  uint32(v: number): void {
    this.align(4);
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v >>> 0);
    this.push(b);
  }

  int32(v: number): void {
    this.align(4);
    const b = Buffer.alloc(4);
    b.writeInt32LE(v);
    this.push(b);
  }

  string(v: string): void {
    const bytes = Buffer.from(v, 'utf8');
    this.uint32(bytes.length);
    this.push(bytes);
    this.byte(0);
  }

  signature(v: string): void {
    this.byte(v.length);
    this.push(Buffer.from(v, 'ascii'));
    this.byte(0);
  }

  value(type: string, v: unknown): void {
    switch (type[0]) {
      case 'y': return this.byte(v as number);
      case 'b': return this.uint32(v ? 1 : 0);
      case 'i': return this.int32(v as number);
      case 'u': return this.uint32(v as number);
      case 's':
      case 'o': return this.string(v as string);
      case 'g': return this.signature(v as string);
      case 'v': {
        const [sig, inner] = v as [string, unknown];
        this.signature(sig);
        return this.value(sig, inner);
      }
      case '(': {
        this.align(8);
        const parts = splitSignature(type.slice(1, -1));
        parts.forEach((t, i) => this.value(t, (v as unknown[])[i]));
        return;
      }
      case 'a': {
        const elem = type.slice(1);
        this.uint32(0);
        const lengthIndex = this.chunks.length - 1;
        this.align(ALIGN[elem[0]!] ?? 1);
        const start = this.length;
        for (const item of v as unknown[]) this.value(elem, item);
        this.chunks[lengthIndex]!.writeUInt32LE(this.length - start);
        return;
      }
      default:
        throw new Error(`cannot marshal type ${type}`);
    }
  }

  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

export function marshalCall(m: CallMessage): Buffer {
  const body = new Writer();
  const signature = m.signature ?? '';
  splitSignature(signature).forEach((t, i) => body.value(t, m.body?.[i]));
  const bodyBytes = body.bytes();

  const fields: Array<[number, [string, unknown]]> = [
    [Field.Path, ['o', m.path]],
    [Field.Interface, ['s', m.interface]],
    [Field.Member, ['s', m.member]],
    [Field.Destination, ['s', m.destination]],
  ];
  if (signature) fields.push([Field.Signature, ['g', signature]]);

  const header = new Writer();
  header.byte(0x6c); // 'l': little-endian
  header.byte(MessageType.MethodCall);
  header.byte(0); // flags
  header.byte(1); // protocol version
  header.uint32(bodyBytes.length);
  header.uint32(m.serial);
  header.value('a(yv)', fields);
  header.align(8);
  return Buffer.concat([header.bytes(), bodyBytes]);
}

class Reader {
  constructor(private readonly buf: Buffer, public pos = 0, private readonly little = true) {}

  align(n: number): void {
    this.pos += (n - (this.pos % n)) % n;
  }

  uint32(): number {
    this.align(4);
    const v = this.little ? this.buf.readUInt32LE(this.pos) : this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  value(type: string): unknown {
    switch (type[0]) {
      case 'y': return this.buf[this.pos++];
      case 'b': return this.uint32() !== 0;
      case 'n': case 'q': {
        this.align(2);
        const v = type === 'n'
          ? (this.little ? this.buf.readInt16LE(this.pos) : this.buf.readInt16BE(this.pos))
          : (this.little ? this.buf.readUInt16LE(this.pos) : this.buf.readUInt16BE(this.pos));
        this.pos += 2;
        return v;
      }
      case 'i': case 'h': {
        const v = this.uint32();
        return type === 'i' ? v | 0 : v;
      }
      case 'u': return this.uint32();
      case 'x': case 't': {
        this.align(8);
        const v = type === 'x'
          ? (this.little ? this.buf.readBigInt64LE(this.pos) : this.buf.readBigInt64BE(this.pos))
          : (this.little ? this.buf.readBigUInt64LE(this.pos) : this.buf.readBigUInt64BE(this.pos));
        this.pos += 8;
        return v;
      }
      case 'd': {
        this.align(8);
        const v = this.little ? this.buf.readDoubleLE(this.pos) : this.buf.readDoubleBE(this.pos);
        this.pos += 8;
        return v;
      }
      case 's': case 'o': {
        const len = this.uint32();
        const v = this.buf.toString('utf8', this.pos, this.pos + len);
        this.pos += len + 1;
        return v;
      }
      case 'g': {
        const len = this.buf[this.pos++]!;
        const v = this.buf.toString('ascii', this.pos, this.pos + len);
        this.pos += len + 1;
        return v;
      }
      case 'v': {
        const sig = this.value('g') as string;
        return this.value(sig);
      }
      case '(': case '{': {
        this.align(8);
        return splitSignature(type.slice(1, -1)).map((t) => this.value(t));
      }
      case 'a': {
        const len = this.uint32();
        const elem = type.slice(1);
        this.align(ALIGN[elem[0]!] ?? 1);
        const end = this.pos + len;
        const items: unknown[] = [];
        while (this.pos < end) items.push(this.value(elem));
        return items;
      }
      default:
        throw new Error(`cannot unmarshal type ${type}`);
    }
  }
}

/** Length of the complete message at the start of `buf`, or undefined if more bytes are needed. */
export function messageLength(buf: Buffer): number | undefined {
  if (buf.length < 16) return undefined;
  const little = buf[0] === 0x6c;
  const bodyLength = little ? buf.readUInt32LE(4) : buf.readUInt32BE(4);
  const fieldsLength = little ? buf.readUInt32LE(12) : buf.readUInt32BE(12);
  const headerEnd = 16 + fieldsLength;
  const total = headerEnd + ((8 - (headerEnd % 8)) % 8) + bodyLength;
  return buf.length >= total ? total : undefined;
}

export function unmarshalMessage(buf: Buffer): ReceivedMessage {
  const little = buf[0] === 0x6c;
  const r = new Reader(buf, 0, little);
  r.pos = 1;
  const type = buf[r.pos++] as MessageType;
  r.pos += 2; // flags, version
  r.uint32(); // body length
  const serial = r.uint32();
  const fields = r.value('a(yv)') as Array<[number, unknown]>;
  r.align(8);
  const get = (code: number): unknown => fields.find(([c]) => c === code)?.[1];
  const signature = (get(Field.Signature) as string | undefined) ?? '';
  const body = splitSignature(signature).map((t) => r.value(t));
  const msg: ReceivedMessage = { type, serial, signature, body };
  const assign = <K extends keyof ReceivedMessage>(key: K, code: number): void => {
    const v = get(code);
    if (v !== undefined) msg[key] = v as ReceivedMessage[K];
  };
  assign('replySerial', Field.ReplySerial);
  assign('errorName', Field.ErrorName);
  assign('path', Field.Path);
  assign('interface', Field.Interface);
  assign('member', Field.Member);
  assign('sender', Field.Sender);
  return msg;
}
