/**
 * Where the wasm module comes from when no `wasmBinary` is given — Node: `wasmUrl` (a file: URL is
 * read from disk, an http(s) URL fetched), else QUANT_KERNELS_WASM (QUANT_KERNELS_WASM_MT for the
 * threaded module), else the package's wasm/quant-kernels.wasm (wasm/quant-kernels-mt.wasm), or its
 * relaxed-SIMD twin wasm/quant-kernels-relaxed.wasm (…-mt-relaxed.wasm) when `relaxed` (the engine
 * validates relaxed SIMD) and the file exists. The browser build (dist/browser.js) uses ./wasm-file.browser.ts instead.
 */
import { KernelError } from './errors';
import { fetchWasmBytes, type WasmLocation } from './wasm-fetch';

export type { WasmLocation };
export { fetchWasmBytes };

export async function wasmLocation(
  wasmUrl: string | URL | undefined,
  threaded = false,
  relaxed = false,
): Promise<WasmLocation> {
  if (wasmUrl !== undefined && !String(wasmUrl).startsWith('file:')) {
    const key = String(wasmUrl);
    return { key, load: () => fetchWasmBytes(wasmUrl) };
  }
  const { readFile } = await import('node:fs/promises');
  const { existsSync } = await import('node:fs');
  const { fileURLToPath } = await import('node:url');
  const { join, dirname } = await import('node:path');
  const shipped = (name: string) => join(dirname(fileURLToPath(import.meta.url)), '..', 'wasm', name);
  const base = threaded ? 'quant-kernels-mt' : 'quant-kernels';
  const path =
    wasmUrl !== undefined
      ? fileURLToPath(wasmUrl)
      : ((threaded ? process.env.QUANT_KERNELS_WASM_MT : process.env.QUANT_KERNELS_WASM) ??
        (relaxed && existsSync(shipped(`${base}-relaxed.wasm`))
          ? shipped(`${base}-relaxed.wasm`)
          : shipped(`${base}.wasm`)));
  return {
    key: path,
    async load() {
      try {
        return new Uint8Array(await readFile(path));
      } catch (e) {
        throw new KernelError(
          'BACKEND_UNAVAILABLE',
          `wasm module not found at ${path}: build it with \`node scripts/build-wasm.mjs\` in @quant/kernels (${(e as Error).message})`,
          { cause: e },
        );
      }
    },
  };
}

/** Reads `dst.length` bytes at `offset` of `path` into `dst`: 0, or a negative code (-2: past the end). */
export type FileReader = (path: string, offset: number, dst: Uint8Array) => number;

/** A helper thread's read: the same loop as readRange below, on its own thread (CommonJS, eval: true). */
const HELPER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { openSync, readSync, closeSync } = require('node:fs');
parentPort.on('message', ({ buf, at, len, path, pos, flag }) => {
  let r = 0;
  try {
    const fd = openSync(path, 'r');
    try {
      const dst = new Uint8Array(buf, at, len);
      for (let done = 0; done < len; ) {
        const n = readSync(fd, dst, done, Math.min(len - done, 1 << 30), pos + done);
        if (n <= 0) { r = -2; break; }
        done += n;
      }
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    r = -Math.abs(e.errno || 5);
  }
  const f = new Int32Array(flag);
  Atomics.store(f, 1, r);
  Atomics.store(f, 0, 1);
  Atomics.notify(f, 0);
});
parentPort.postMessage('ready');
`;

/**
 * The helper threads, shared by every wasm host of the process (so loading and disposing kernels does
 * not start threads each time): unref'd, idle until a read, grown to the largest count asked for.
 * Only helpers that answered are used: the calling thread blocks on them.
 */
let helperPool: Promise<import('node:worker_threads').Worker[]> = Promise.resolve([]);
function helperThreads(n: number): Promise<import('node:worker_threads').Worker[]> {
  helperPool = helperPool.then(async (have) => {
    if (have.length >= n) return have;
    const { Worker } = await import('node:worker_threads');
    const started = Array.from({ length: n - have.length }, () => {
      const w = new Worker(HELPER_SOURCE, { eval: true });
      w.unref();
      return new Promise<import('node:worker_threads').Worker | undefined>((resolve) => {
        w.once('message', () => resolve(w));
        w.once('error', () => resolve(undefined));
      });
    });
    const more = (await Promise.all(started)).filter((w) => w !== undefined);
    return [...have, ...more];
  });
  return helperPool.then((all) => all.slice(0, n));
}

/** Tensors at least this big are split over the helper threads. */
const SPLIT_BYTES = 8 << 20;

/**
 * Node: the wasm host's `weightFromFile` reads a tensor's bytes straight into linear memory with this
 * (no intermediate buffer, so each page of the weight is touched once). First-touch page faults
 * dominate such a copy (a 2.4 GB model: ~600k faults), so with a shared memory (the threaded module)
 * `helpers` extra threads each read a slice of a large tensor in parallel while the calling thread
 * reads its own slice and then waits for theirs (Atomics.wait: Node's main thread may block).
 * Browsers have no files: the browser build returns undefined.
 */
export async function fileReader(helpers = 0): Promise<FileReader | undefined> {
  const { openSync, readSync, closeSync, fstatSync } = await import('node:fs');
  const errno = (e: unknown) => -Math.abs((e as NodeJS.ErrnoException).errno || 5);
  const readRange = (fd: number, dst: Uint8Array, pos: number): number => {
    for (let done = 0; done < dst.length; ) {
      // at most 1 GiB a call (Linux reads at most 0x7ffff000 bytes at once)
      const n = readSync(fd, dst, done, Math.min(dst.length - done, 1 << 30), pos + done);
      if (n <= 0) return -2;
      done += n;
    }
    return 0;
  };
  const workers = helpers > 0 && typeof SharedArrayBuffer === 'function' ? await helperThreads(helpers) : [];
  const reader: FileReader = (path, offset, dst) => {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (e) {
      return errno(e);
    }
    try {
      if (offset + dst.length > fstatSync(fd).size) return -2;
      const shared = dst.buffer instanceof SharedArrayBuffer;
      if (!shared || workers.length === 0 || dst.length < SPLIT_BYTES) return readRange(fd, dst, offset);
      // slices of whole 64 KiB runs: the helpers take the first ones, this thread the last
      const parts = workers.length + 1;
      const step = Math.ceil(dst.length / parts / 65536) * 65536;
      const flags = workers.map(() => new SharedArrayBuffer(8));
      for (const [i, w] of workers.entries()) {
        const len = Math.min(step, dst.length - i * step);
        const flag = flags[i] as SharedArrayBuffer;
        if (len <= 0)
          Atomics.store(new Int32Array(flag), 0, 1); // nothing left for this helper
        else
          w.postMessage({
            buf: dst.buffer,
            at: dst.byteOffset + i * step,
            len,
            path,
            pos: offset + i * step,
            flag,
          });
      }
      const own = workers.length * step;
      let r = own < dst.length ? readRange(fd, dst.subarray(own), offset + own) : 0;
      flags.forEach((flag, i) => {
        const f = new Int32Array(flag);
        // a helper that does not answer within 30 s (it died): read its slice here (same bytes either way)
        if (Atomics.wait(f, 0, 0, 30_000) === 'timed-out' && Atomics.load(f, 0) === 0) {
          const at = i * step;
          const hr = readRange(fd, dst.subarray(at, Math.min(at + step, dst.length)), offset + at);
          if (hr < 0 && r === 0) r = hr;
          return;
        }
        const hr = Atomics.load(f, 1);
        if (hr < 0 && r === 0) r = hr;
      });
      return r;
    } catch (e) {
      return errno(e);
    } finally {
      closeSync(fd);
    }
  };
  return reader;
}
