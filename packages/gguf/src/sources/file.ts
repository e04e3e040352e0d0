import { GGUFError } from '../errors.js';
import { loadFs } from './node-fs.js';
import type { GGUFByteSource } from './source.js';

type FsPromises = typeof import('node:fs/promises');
type FileHandle = Awaited<ReturnType<FsPromises['open']>>;

export { loadFs };

/** A local file read with positioned reads; only the requested ranges are ever in memory. */
export class FileSource implements GGUFByteSource {
  bytesRead = 0;
  private closed = false;
  private opening: Promise<FileHandle> | undefined;

  private constructor(
    readonly name: string,
    private handle: FileHandle | undefined,
    readonly size: number,
  ) {}

  static async open(path: string): Promise<FileSource> {
    let fs: FsPromises;
    try {
      fs = await loadFs();
    } catch (cause) {
      throw new GGUFError(
        'GGUF_SOURCE_ERROR',
        'file paths can only be read in Node.js; pass a Blob, bytes or an http(s) URL instead',
        { file: path, cause },
      );
    }
    let handle: FileHandle;
    try {
      handle = await fs.open(path, 'r');
    } catch (cause) {
      throw new GGUFError('GGUF_SOURCE_ERROR', `cannot open: ${(cause as Error).message}`, {
        file: path,
        cause,
      });
    }
    try {
      const st = await handle.stat();
      if (!st.isFile()) throw new Error('not a regular file');
      return new FileSource(path, handle, st.size);
    } catch (cause) {
      await handle.close().catch(() => {});
      throw new GGUFError('GGUF_SOURCE_ERROR', `cannot read: ${(cause as Error).message}`, {
        file: path,
        cause,
      });
    }
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    if (this.closed) throw new GGUFError('GGUF_CLOSED', 'the GGUF file was closed', { file: this.name });
    const handle = await this.ensureOpen();
    const start = Math.min(offset, this.size);
    const n = Math.max(0, Math.min(this.size, start + length) - start);
    const out = new Uint8Array(n);
    let done = 0;
    try {
      while (done < n) {
        const { bytesRead } = await handle.read(out, done, n - done, start + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
    } catch (cause) {
      throw new GGUFError('GGUF_SOURCE_ERROR', `reading ${n} bytes failed: ${(cause as Error).message}`, {
        offset: start,
        file: this.name,
        cause,
      });
    }
    this.bytesRead += done;
    return done === n ? out : out.subarray(0, done);
  }

  private ensureOpen(): Promise<FileHandle> {
    if (this.handle !== undefined) return Promise.resolve(this.handle);
    this.opening ??= loadFs()
      .then((fs) => fs.open(this.name, 'r'))
      .then(
        async (h) => {
          this.opening = undefined;
          if (this.closed) {
            await h.close();
            throw new GGUFError('GGUF_CLOSED', 'the GGUF file was closed', { file: this.name });
          }
          this.handle = h;
          return h;
        },
        (cause: unknown) => {
          this.opening = undefined;
          if (cause instanceof GGUFError) throw cause;
          throw new GGUFError('GGUF_SOURCE_ERROR', `cannot reopen: ${(cause as Error).message}`, {
            file: this.name,
            cause,
          });
        },
      );
    return this.opening;
  }

  /** Closes the OS handle but lets later reads reopen the file (used after the header is parsed). */
  async release(): Promise<void> {
    const h = this.handle;
    this.handle = undefined;
    await h?.close();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const h = this.handle;
    this.handle = undefined;
    await h?.close();
  }
}
