import { GGUFError } from '../errors.js';
import type { GGUFByteSource } from './source.js';

/** A source over a Blob/File (browsers, Node ≥ 20): reads slices on demand. */
export class BlobSource implements GGUFByteSource {
  readonly size: number;
  bytesRead = 0;
  private closed = false;
  readonly name: string | undefined;

  constructor(private blob: Blob) {
    this.size = blob.size;
    const n = (blob as { name?: unknown }).name;
    this.name = typeof n === 'string' && n.length > 0 ? n : undefined;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    if (this.closed) throw new GGUFError('GGUF_CLOSED', 'the GGUF file was closed', { file: this.name });
    const start = Math.min(offset, this.size);
    const end = Math.min(this.size, start + length);
    if (end <= start) return new Uint8Array(0);
    try {
      const out = new Uint8Array(await this.blob.slice(start, end).arrayBuffer());
      this.bytesRead += out.length;
      return out;
    } catch (cause) {
      throw new GGUFError(
        'GGUF_SOURCE_ERROR',
        `reading bytes ${start}–${end} of the Blob failed: ${String(cause)}`,
        { offset: start, file: this.name, cause },
      );
    }
  }

  /** Also drops the reference to the Blob. */
  async close(): Promise<void> {
    this.closed = true;
    this.blob = new Blob([]);
  }
}
