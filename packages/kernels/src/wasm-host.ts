/**
 * The WebAssembly backend: the same C library compiled to wasm32 with emnapi's Node-API shim.
 * The module imports nothing but Node-API (no WASI), so it runs unchanged in browsers. The threaded
 * module (quant-kernels-mt.wasm) also imports a shared memory and `wasi.thread-spawn`, which starts
 * a kernel worker thread (./wasm-threads.ts, ./wasm-thread-source.ts).
 * Memory: everything lives in the module's linear memory (at most 4 GiB); weights are copied in
 * once by `weight()`, float buffers are allocated there and viewed through `memory.buffer`.
 */
import { KernelError } from './errors';
import type { FloatBlock, Host, PinnedBytes, RawBinding } from './raw-binding';
import type { ThreadSpawner } from './wasm-thread-source';

/** wasm32 can address 4 GiB; keep 64 MiB for the C heap's own bookkeeping, stack and scratch. */
export const WASM_MAX_MEMORY_BYTES = 4 * 1024 * 1024 * 1024 - 64 * 1024 * 1024;

export interface WasmSourceOptions {
  /** The module's bytes (e.g. fetched by the app). */
  wasmBinary?: ArrayBuffer | Uint8Array;
  /**
   * Where to fetch the module from. Default: the package's wasm/quant-kernels.wasm (Node: read from
   * disk; browsers: `new URL('../wasm/quant-kernels.wasm', import.meta.url)`, which bundlers emit).
   */
  wasmUrl?: string | URL;
}

/** What createWasmHost needs beyond the module's source. */
export interface WasmHostOptions extends WasmSourceOptions {
  /**
   * Load the threaded module (wasm/quant-kernels-mt.wasm: shared memory, kernel thread pool on
   * workers) instead of the single-threaded one. With `wasmBinary` / `wasmUrl` the given module's
   * own kind decides (the threaded one imports its memory).
   */
  threaded?: boolean;
  /** Threads the first context will ask for: that many − 1 workers are started ahead. */
  threads?: number;
}

/** Compiled modules by source (a path, or the caller's buffer): instantiating again is then cheap. */
const compiledByPath = new Map<string, Promise<WebAssembly.Module>>();
const compiledByBuffer = new WeakMap<object, Promise<WebAssembly.Module>>();

function compile(bytes: Uint8Array): Promise<WebAssembly.Module> {
  return WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
}

function memoized<K>(
  get: (k: K) => Promise<WebAssembly.Module> | undefined,
  set: (k: K, v: Promise<WebAssembly.Module>) => void,
  del: (k: K) => void,
  key: K,
  load: () => Promise<Uint8Array>,
): Promise<WebAssembly.Module> {
  let p = get(key);
  if (!p) {
    p = load().then(compile);
    set(key, p);
    // A failed load or compile is not cached: the next call tries again.
    p.catch(() => del(key));
  }
  return p;
}

/**
 * Whether the engine runs relaxed SIMD (Chrome ≥ 114, Node ≥ 22, Node 20 with
 * --experimental-wasm-relaxed-simd): then the package's *-relaxed.wasm modules are loaded, whose K-quant
 * vec-dots use i32x4.relaxed_dot_i8x16_i7x16_add_s (deterministic for the operands they pass: results are
 * bit-identical with the SIMD128 modules). Env QUANT_KERNELS_WASM_RELAXED=0 turns it off (Node).
 */
let relaxedCache: boolean | undefined;
export function relaxedSimd(): boolean {
  if (relaxedCache === undefined) {
    const off = typeof process !== 'undefined' && process.env?.QUANT_KERNELS_WASM_RELAXED === '0';
    relaxedCache = !off && WebAssembly.validate(relaxedSimdProbe());
  }
  return relaxedCache;
}

/** A module that validates only where relaxed SIMD is on:
 * (func (result v128) v128.const 0 ×3 i32x4.relaxed_dot_i8x16_i7x16_add_s) */
export function relaxedSimdProbe(): Uint8Array<ArrayBuffer> {
  const z = new Array<number>(16).fill(0);
  const body = [0, 0xfd, 12, ...z, 0xfd, 12, ...z, 0xfd, 12, ...z, 0xfd, 0x93, 2, 0x0b];
  const header = [0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]; // "\0asm", version 1
  const types = [1, 5, 1, 0x60, 0, 1, 0x7b]; // one type: () -> v128
  const funcs = [3, 2, 1, 0]; // one function of type 0
  return new Uint8Array([...header, ...types, ...funcs, 10, body.length + 2, 1, body.length, ...body]);
}

async function wasmModule(opts: WasmSourceOptions, threaded: boolean): Promise<WebAssembly.Module> {
  if (opts.wasmBinary) {
    const b = opts.wasmBinary;
    return memoized(
      (k) => compiledByBuffer.get(k),
      (k, v) => compiledByBuffer.set(k, v),
      (k) => compiledByBuffer.delete(k),
      b,
      async () => (b instanceof Uint8Array ? b : new Uint8Array(b)),
    );
  }
  // Node: a path or file: URL read from disk (src/wasm-file.ts); browsers: fetched (wasm-file.browser.ts).
  const { wasmLocation } = await import('./wasm-file');
  const where = await wasmLocation(opts.wasmUrl, threaded, opts.wasmUrl === undefined && relaxedSimd());
  return memoized(
    (k) => compiledByPath.get(k),
    (k, v) => compiledByPath.set(k, v),
    (k) => compiledByPath.delete(k),
    where.key,
    () => where.load(),
  );
}

/**
 * Functions that forward to `target()`'s function of the same name. Whoever keeps these (a wrapper
 * of the host, a disposed Kernels object) keeps only the forwarders, not the instance behind them.
 */
function forwarders(names: readonly string[], target: () => RawBinding): RawBinding {
  const o: Record<string, unknown> = {};
  for (const k of names)
    o[k] = (...a: unknown[]) =>
      (
        (target() as unknown as Record<string, (...x: unknown[]) => unknown>)[k] as (
          ...x: unknown[]
        ) => unknown
      )(...a);
  return o as unknown as RawBinding;
}

/** Every call of a released instance lands here. */
const releasedBinding = new Proxy({} as RawBinding, {
  get(_t, name) {
    return () => {
      throw new KernelError(
        'DISPOSED',
        `${String(name)}: this wasm kernels instance was disposed and its memory released; load a new one with loadKernels()`,
      );
    };
  },
});

/**
 * One wasm instance per loadKernels(): its own linear memory and its own emnapi context. Disposing
 * the Kernels destroys its context; the host then destroys the emnapi context (which holds the env,
 * and through it the instance and its memory) and drops every reference to them, so the memory
 * is garbage as soon as the caller drops the Kernels object — even while a disposed Kernels object
 * (or a disposed Model holding it) is still referenced.
 */
export async function createWasmHost(opts: WasmHostOptions = {}): Promise<Host> {
  let module: WebAssembly.Module;
  try {
    module = await wasmModule(opts, opts.threaded === true);
  } catch (e) {
    if (e instanceof KernelError) throw e;
    throw new KernelError(
      'BACKEND_UNAVAILABLE',
      `the wasm module failed to compile: ${(e as Error).message}`,
      { cause: e },
    );
  }
  // The threaded module imports its (shared) memory and the wasi-threads `thread-spawn` function.
  const threaded = WebAssembly.Module.imports(module).some((i) => i.kind === 'memory');
  let spawner: ThreadSpawner | undefined;
  let sharedMemory: WebAssembly.Memory | undefined;
  if (threaded) {
    const { threadsAvailable, createThreadSpawner } = await import('./wasm-threads');
    const why = threadsAvailable();
    if (why)
      throw new KernelError(
        'BACKEND_UNAVAILABLE',
        `the threaded wasm module (quant-kernels-mt.wasm) cannot run here: ${why}; load the single-threaded one (wasmThreads: false, or its wasmUrl/wasmBinary)`,
      );
    try {
      // 256 pages = the module's --initial-memory (16 MiB); at most 4 GiB, like the single-threaded one.
      sharedMemory = new WebAssembly.Memory({ initial: 256, maximum: 65536, shared: true });
    } catch (e) {
      throw new KernelError(
        'BACKEND_UNAVAILABLE',
        `could not create a shared wasm memory for the threaded module: ${(e as Error).message}`,
        { cause: e },
      );
    }
    spawner = await createThreadSpawner(module, sharedMemory);
    await spawner.prestart(Math.max(0, (opts.threads ?? 1) - 1), 10_000);
  }
  const [{ instantiateNapiModule }, { createContext }] = await Promise.all([
    import('@emnapi/core'),
    import('@emnapi/runtime'),
  ]);
  // A Context registers a process 'beforeExit' listener that holds it (and so our instance) for
  // the life of the process; ours is destroyed explicitly on release, so take that listener off.
  const hasProcess = typeof process !== 'undefined' && typeof process.listeners === 'function';
  const before = hasProcess ? process.listeners('beforeExit') : [];
  let context: ReturnType<typeof createContext> | undefined = createContext();
  const added = hasProcess ? process.listeners('beforeExit').filter((l) => !before.includes(l)) : [];
  for (const l of added) process.removeListener('beforeExit', l);
  let binding: RawBinding;
  let memory: WebAssembly.Memory | undefined;
  try {
    const sp = spawner;
    const { instance, napiModule } = await instantiateNapiModule(module, {
      context,
      ...(sharedMemory && sp
        ? {
            overwriteImports(imports: Record<string, Record<string, unknown>>) {
              imports.env = { ...imports.env, memory: sharedMemory };
              imports.wasi = { 'thread-spawn': (arg: number) => sp.spawn(arg) };
              return imports;
            },
          }
        : {}),
      beforeInit({ instance }) {
        const init = instance.exports._initialize as (() => void) | undefined;
        if (typeof init === 'function') init();
      },
    } as Parameters<typeof instantiateNapiModule>[1]);
    binding = napiModule.exports as unknown as RawBinding;
    memory = sharedMemory ?? (instance.exports.memory as WebAssembly.Memory);
  } catch (e) {
    context?.destroy();
    spawner?.dispose();
    throw new KernelError(
      'BACKEND_UNAVAILABLE',
      `the wasm module failed to instantiate: ${(e as Error).message}`,
      { cause: e },
    );
  }

  // Node: weightFromFile reads the tensor straight into linear memory (see mapFile below).
  // (threaded module: large tensors are read by `threads` threads at once, see wasm-file.ts)
  const { fileReader } = await import('./wasm-file');
  let readInto = await fileReader(threaded ? Math.max(0, (opts.threads ?? 1) - 1) : 0);
  let contexts = 0;
  const raw: RawBinding = Object.assign(
    forwarders(Object.getOwnPropertyNames(binding), () => binding),
    {
      /**
       * Wasm cannot map a file into linear memory: `weightFromFile` allocates the weight there and reads
       * the bytes straight into it (one copy, from the page cache; no intermediate buffer whose fresh
       * pages would fault too). [ptr, base, len, file id] or a negative code, like the native mapFile.
       */
      mapFile(path: string, offset: number, bytes: number): [number, number, number, number] | number {
        if (!readInto) return -38; // ENOSYS: canMapFiles is false here, so kernels.ts never calls this
        const ptr = alloc(Math.max(1, bytes), false);
        const r = readInto(path, offset, new Uint8Array(mem().buffer, ptr, bytes));
        if (r < 0) {
          free(ptr);
          return r;
        }
        return [ptr, ptr, bytes, 0];
      },
      unmap(base: number, _len: number): void {
        free(base);
      },
      createContext(threads: number, forceScalar: number): number {
        const c = binding.createContext(threads, forceScalar);
        contexts++;
        return c;
      },
      destroyContext(ctx: number): void {
        binding.destroyContext(ctx);
        if (--contexts === 0) release();
      },
    },
  );
  const release = () => {
    readInto = undefined;
    binding = releasedBinding;
    memory = undefined;
    spawner?.dispose();
    spawner = undefined;
    // the host's closures share this scope: drop the shared memory too, or a disposed Kernels that is
    // still referenced would keep it alive
    sharedMemory = undefined;
    const c = context;
    context = undefined;
    c?.destroy();
  };
  const mem = (): WebAssembly.Memory => {
    if (!memory)
      throw new KernelError(
        'DISPOSED',
        'this wasm kernels instance was disposed and its memory released; load a new one with loadKernels()',
      );
    return memory;
  };

  /** Freeing after the release is a no-op: the whole memory is gone. */
  const free = (p: number): void => {
    if (memory) raw.free(p);
  };

  const alloc = (n: number, zero: boolean): number => {
    if (n > WASM_MAX_MEMORY_BYTES) {
      throw new KernelError(
        'OUT_OF_MEMORY',
        `cannot allocate ${n} bytes in wasm memory (limit ${WASM_MAX_MEMORY_BYTES}); use the native backend for larger models`,
      );
    }
    const p = raw.alloc(n, zero ? 1 : 0);
    if (!p) {
      throw new KernelError(
        'OUT_OF_MEMORY',
        `wasm linear memory is full: could not allocate ${n} bytes (in use: ${mem().buffer.byteLength} of at most 4 GiB); dispose unused weights/buffers or use the native backend`,
      );
    }
    return p;
  };

  return {
    kind: 'wasm',
    threaded,
    raw,
    // "map" = read straight into linear memory (Node); browsers have no files
    canMapFiles: readInto !== undefined,
    maxMemoryBytes: WASM_MAX_MEMORY_BYTES,
    floats(length: number): FloatBlock {
      const ptr = alloc(Math.max(1, length) * 4, true);
      let cached: Float32Array | undefined;
      return {
        ptr,
        view() {
          const buffer = mem().buffer;
          if (!cached || cached.buffer !== buffer) cached = new Float32Array(buffer, ptr, length);
          return cached;
        },
        free: () => free(ptr),
      };
    },
    pin(b: ArrayBufferView): PinnedBytes {
      const n = b.byteLength;
      const ptr = alloc(Math.max(1, n), false);
      new Uint8Array(mem().buffer, ptr, n).set(new Uint8Array(b.buffer, b.byteOffset, n));
      return { ptr, release: () => free(ptr) };
    },
    output(n: number) {
      const ptr = alloc(Math.max(1, n), false);
      return {
        ptr,
        take: () => new Uint8Array(mem().buffer, ptr, n).slice(),
        release: () => free(ptr),
      };
    },
    alloc: (n: number, zero = true) => alloc(n, zero),
    free,
  };
}
