import { GGUFError } from '../errors.js';
import type { GGUFByteSource } from './source.js';

/** A source over bytes already in memory. Reads return views (no copy). */
export class BytesSource implements GGUFByteSource {
  readonly inMemory = true;
  readonly size: number;
  bytesRead = 0;
  private closed = false;

  constructor(
    private bytes: Uint8Array,
    readonly name: string | undefined = undefined,
  ) {
    this.size = bytes.length;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    if (this.closed) throw new GGUFError('GGUF_CLOSED', 'the GGUF file was closed', { file: this.name });
    const start = Math.min(offset, this.size);
    const out = this.bytes.subarray(start, Math.min(this.size, start + length));
    this.bytesRead += out.length;
    return out;
  }

  /** Also drops the reference to the bytes, so closing a parsed file lets them be garbage collected. */
  async close(): Promise<void> {
    this.closed = true;
    this.bytes = new Uint8Array(0);
  }
}

export function toUint8Array(x: ArrayBuffer | ArrayBufferView): Uint8Array {
  if (x instanceof Uint8Array && x.constructor === Uint8Array) return x;
  if (ArrayBuffer.isView(x)) return new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
  return new Uint8Array(x);
}
