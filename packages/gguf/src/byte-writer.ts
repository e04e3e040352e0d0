import { GGUFError } from './errors.js';

const encoder = new TextEncoder();
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** A growable little/big-endian byte buffer. */
export class ByteWriter {
  private buf = new Uint8Array(4096);
  private view = new DataView(this.buf.buffer);
  pos = 0;

  constructor(readonly le: boolean) {}

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number): void {
    this.ensure(1);
    this.view.setUint8(this.pos, v);
    this.pos += 1;
  }
  i8(v: number): void {
    this.ensure(1);
    this.view.setInt8(this.pos, v);
    this.pos += 1;
  }
  u16(v: number): void {
    this.ensure(2);
    this.view.setUint16(this.pos, v, this.le);
    this.pos += 2;
  }
  i16(v: number): void {
    this.ensure(2);
    this.view.setInt16(this.pos, v, this.le);
    this.pos += 2;
  }
  u32(v: number): void {
    this.ensure(4);
    this.view.setUint32(this.pos, v, this.le);
    this.pos += 4;
  }
  i32(v: number): void {
    this.ensure(4);
    this.view.setInt32(this.pos, v, this.le);
    this.pos += 4;
  }
  f32(v: number): void {
    this.ensure(4);
    this.view.setFloat32(this.pos, v, this.le);
    this.pos += 4;
  }
  f64(v: number): void {
    this.ensure(8);
    this.view.setFloat64(this.pos, v, this.le);
    this.pos += 8;
  }
  u64(v: bigint): void {
    this.ensure(8);
    this.view.setBigUint64(this.pos, v, this.le);
    this.pos += 8;
  }
  i64(v: bigint): void {
    this.ensure(8);
    this.view.setBigInt64(this.pos, v, this.le);
    this.pos += 8;
  }
  /** A non-negative safe integer as u64. */
  u64n(v: number): void {
    this.ensure(8);
    const hi = Math.floor(v / 4294967296);
    const lo = v >>> 0;
    this.view.setUint32(this.pos + (this.le ? 0 : 4), lo, this.le);
    this.view.setUint32(this.pos + (this.le ? 4 : 0), hi, this.le);
    this.pos += 8;
  }
  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
  /** A GGUF string: u64 byte length + UTF-8 bytes. */
  string(s: string): void {
    if (s.length < 64 && isAscii(s)) {
      this.u64n(s.length);
      this.ensure(s.length);
      for (let i = 0; i < s.length; i++) this.buf[this.pos + i] = s.charCodeAt(i);
      this.pos += s.length;
      return;
    }
    if (LONE_SURROGATE.test(s)) {
      throw new GGUFError(
        'GGUF_INVALID_ARGUMENT',
        `string contains a lone UTF-16 surrogate and cannot be encoded as UTF-8: ${JSON.stringify(s.slice(0, 40))}`,
      );
    }
    const b = encoder.encode(s);
    this.u64n(b.length);
    this.bytes(b);
  }
  pad(alignment: number): void {
    const n = (alignment - (this.pos % alignment)) % alignment;
    this.ensure(n);
    this.buf.fill(0, this.pos, this.pos + n);
    this.pos += n;
  }
  result(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }
}
