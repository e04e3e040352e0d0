import { GGUFError } from '../errors.js';
import type { GGUFByteSource } from './source.js';

export interface HttpSourceOptions {
  /** fetch implementation (default: globalThis.fetch, called as a plain function). */
  fetch?: typeof fetch;
  /** Extra request headers (e.g. Authorization): a record, a `Headers` object or `[name, value]` pairs. */
  headers?: HeadersInit;
  /** Aborts every request of this source. */
  signal?: AbortSignal;
  /** `fetch`'s credentials mode (browsers: 'same-origin' by default; 'include' sends cookies cross-origin). */
  credentials?: RequestCredentials;
}

/**
 * An http(s) URL read with `Range: bytes=a-b` requests. Servers that ignore Range (200) are
 * handled by reading only the needed prefix of the body and cancelling the rest.
 */
export class HttpSource implements GGUFByteSource {
  size: number | undefined;
  bytesRead = 0;
  /** Number of HTTP requests made. */
  requests = 0;
  private closed = false;
  private readonly fetchFn: typeof fetch;

  constructor(
    readonly name: string,
    private readonly options: HttpSourceOptions = {},
  ) {
    const f = options.fetch ?? globalThis.fetch;
    if (typeof f !== 'function') {
      throw new GGUFError('GGUF_SOURCE_ERROR', 'no fetch() available to read URLs; pass options.fetch', {
        file: name,
      });
    }
    // Called as a plain function: browsers' fetch throws "Illegal invocation" when its `this` is
    // anything but the global object (as it would be as a method of this source).
    this.fetchFn = (input, init) => f(input, init);
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    let out = await this.readOnce(offset, length);
    // Some servers cap the size of a range: ask again for the rest until the range or the file ends.
    while (
      out.length > 0 &&
      out.length < length &&
      this.size !== undefined &&
      offset + out.length < this.size
    ) {
      const more = await this.readOnce(offset + out.length, length - out.length);
      if (more.length === 0) break;
      const joined = new Uint8Array(out.length + more.length);
      joined.set(out, 0);
      joined.set(more, out.length);
      out = joined;
    }
    return out;
  }

  private async readOnce(offset: number, length: number): Promise<Uint8Array> {
    if (this.closed) throw new GGUFError('GGUF_CLOSED', 'the GGUF file was closed', { file: this.name });
    if (length <= 0 || (this.size !== undefined && offset >= this.size)) return new Uint8Array(0);
    const end = offset + length - 1;
    let res: Response;
    try {
      this.requests++;
      const headers = new Headers(this.options.headers);
      headers.set('Range', `bytes=${offset}-${end}`);
      res = await this.fetchFn(this.name, {
        headers,
        ...(this.options.signal ? { signal: this.options.signal } : {}),
        ...(this.options.credentials ? { credentials: this.options.credentials } : {}),
      });
    } catch (cause) {
      throw new GGUFError(
        'GGUF_SOURCE_ERROR',
        `cannot fetch ${this.name} (bytes ${offset}–${end}): ${networkReason(cause)}; check the URL and the network`,
        { offset, file: this.name, cause },
      );
    }
    if (res.status === 416) {
      this.learnSize(res.headers.get('content-range'));
      await res.body?.cancel().catch(() => {});
      return new Uint8Array(0);
    }
    if (res.status === 206) {
      this.learnSize(res.headers.get('content-range'));
      const out = new Uint8Array(await this.body(res, offset));
      if (out.length > length)
        throw new GGUFError(
          'GGUF_SOURCE_ERROR',
          `server sent ${out.length} bytes for a ${length}-byte range`,
          { offset, file: this.name },
        );
      this.bytesRead += out.length;
      return out;
    }
    if (res.status === 200) {
      const len = Number(res.headers.get('content-length'));
      if (res.headers.get('content-encoding') === null && Number.isSafeInteger(len) && len >= 0)
        this.size = len;
      const out = await this.prefix(res, offset + length);
      this.bytesRead += out.length;
      return out.subarray(Math.min(offset, out.length));
    }
    await res.body?.cancel().catch(() => {});
    throw new GGUFError(
      'GGUF_SOURCE_ERROR',
      `the server answered HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''} for bytes ${offset}–${end} of ${this.name}`,
      { offset, file: this.name },
    );
  }

  private async body(res: Response, offset: number): Promise<ArrayBuffer> {
    try {
      return await res.arrayBuffer();
    } catch (cause) {
      throw new GGUFError('GGUF_SOURCE_ERROR', `reading the response body failed: ${String(cause)}`, {
        offset,
        file: this.name,
        cause,
      });
    }
  }

  /** The first `n` bytes of a full-file (200) response; the rest is not downloaded. */
  private async prefix(res: Response, n: number): Promise<Uint8Array> {
    if (res.body === null) return new Uint8Array(0);
    const reader = res.body.getReader();
    const chunks: Uint8Array[] = [];
    let have = 0;
    try {
      while (have < n) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks.push(value);
        have += value.length;
      }
    } catch (cause) {
      throw new GGUFError('GGUF_SOURCE_ERROR', `reading the response body failed: ${String(cause)}`, {
        file: this.name,
        cause,
      });
    } finally {
      await reader.cancel().catch(() => {});
    }
    const out = new Uint8Array(Math.min(have, n));
    let p = 0;
    for (const c of chunks) {
      const take = Math.min(c.length, out.length - p);
      out.set(c.subarray(0, take), p);
      p += take;
      if (p >= out.length) break;
    }
    return out;
  }

  private learnSize(contentRange: string | null): void {
    const m = contentRange === null ? null : /\/\s*(\d+)\s*$/.exec(contentRange);
    if (m?.[1] !== undefined) this.size = Number(m[1]);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

/**
 * Why a fetch() failed, from the innermost cause: Node's fetch rejects with `TypeError: fetch failed`
 * and keeps the system error (ECONNREFUSED, ENOTFOUND, a TLS failure …) in `cause`.
 */
export function networkReason(e: unknown): string {
  const parts: string[] = [];
  let cur: unknown = e;
  for (let depth = 0; depth < 5 && cur !== undefined && cur !== null; depth++) {
    const err = cur as { message?: unknown; code?: unknown; cause?: unknown; name?: unknown };
    const msg = typeof err.message === 'string' ? err.message : String(cur);
    const code = typeof err.code === 'string' ? err.code : undefined;
    if (err.name === 'AbortError' || err.name === 'TimeoutError') parts.push(msg || 'aborted');
    else if (msg && msg !== 'fetch failed') parts.push(code && !msg.includes(code) ? `${code}: ${msg}` : msg);
    else if (code) parts.push(code);
    cur = err.cause;
  }
  return parts.length > 0 ? parts.join(': ') : 'the request failed';
}
