/**
 * A pass-through stream that hashes and counts the bytes going by, for checking content
 * against a digest while it streams (nothing is held: memory stays flat). `ended` says
 * whether the tap saw the end of its input, so a consumer that stopped early (a tar parser
 * at its end marker, a decompressor at the end of its data) cannot pass off a prefix as the
 * whole. A byte limit stops a stream as soon as it is exceeded (decompression bombs), and a
 * check of the first bytes (a format's magic) runs before any byte is passed on.
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

export interface DigestTapOptions {
  /** node:crypto hash name (`sha256`, `sha512`); absent: bytes are only counted. */
  algorithm?: string;
  /** Most bytes that may pass; more fail the stream with `tooMany()`. */
  maxBytes?: number;
  tooMany?: () => Error;
  /** Checks the first `bytes` bytes (fewer when the stream is shorter); an error fails the stream. */
  head?: { bytes: number; check(head: Buffer): Error | undefined };
}

export class DigestTap extends Transform {
  private readonly hash: Hash | undefined;
  /** The first bytes, held until the head check has run; undefined once it has. */
  private held: Buffer | undefined;
  bytes = 0;
  ended = false;

  constructor(private readonly options: DigestTapOptions) {
    super({ highWaterMark: 1 << 20 });
    this.hash = options.algorithm === undefined ? undefined : createHash(options.algorithm);
    this.held = options.head === undefined ? undefined : Buffer.alloc(0);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.options.maxBytes !== undefined && this.bytes > this.options.maxBytes) {
      callback(this.options.tooMany?.() ?? new Error(`more than ${this.options.maxBytes} bytes`));
      return;
    }
    this.hash?.update(chunk);
    if (this.held === undefined) {
      callback(null, chunk);
      return;
    }
    this.held = Buffer.concat([this.held, chunk]);
    if (this.held.length < this.options.head!.bytes) {
      callback();
      return;
    }
    this.release(callback);
  }

  override _flush(callback: TransformCallback): void {
    this.ended = true;
    if (this.held === undefined) callback();
    else this.release(callback);
  }

  /** Runs the head check and passes on what was held. */
  private release(callback: TransformCallback): void {
    const held = this.held!;
    this.held = undefined;
    const error = this.options.head!.check(held.subarray(0, this.options.head!.bytes));
    callback(error ?? null, error ? undefined : held);
  }

  /** The hex digest of everything that went by; call once, after the end. */
  hex(): string {
    if (this.hash === undefined) throw new Error('this tap does not hash');
    return this.hash.digest('hex');
  }
}
