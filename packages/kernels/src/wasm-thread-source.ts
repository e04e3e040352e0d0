/**
 * The script a kernel worker thread runs (wasm/quant-kernels-mt.wasm). It is plain JS kept as a
 * string and started from a Blob URL (browsers, ./wasm-threads.browser.ts) or with `eval: true`
 * (Node, ./wasm-threads.ts), so no bundler has to find a worker entry. The worker says `ready`, waits for one message { module, memory, tid, arg },
 * instantiates the module on the shared memory (imports other than the memory are never called on
 * a worker thread: kernel chunks only compute) and runs `wasi_thread_start(tid, arg)`, which returns
 * when the C thread pool is destroyed; then the worker ends.
 */
/** What both workers run (Node's and the browser's wrappers add the messaging). */
export const THREAD_RUN = `
const instantiate = (module, memory) => {
  const imports = {};
  for (const i of WebAssembly.Module.imports(module)) {
    const ns = (imports[i.module] = imports[i.module] || {});
    if (i.kind === 'memory') ns[i.name] = memory;
    else if (i.kind === 'function')
      ns[i.name] = () => {
        throw new Error('quant kernels: ' + i.module + '.' + i.name + ' called on a kernel worker thread');
      };
  }
  return new WebAssembly.Instance(module, imports);
};
`;

/** Starts kernel worker threads for one wasm instance (the `wasi.thread-spawn` import). */
export interface ThreadSpawner {
  /** Starts `n` workers ahead of need and waits (at most `timeoutMs`) until they run. */
  prestart(n: number, timeoutMs: number): Promise<void>;
  /** The `thread-spawn` import: hands start argument `arg` to a worker; returns its thread id (> 0) or -1. */
  spawn(arg: number): number;
  /** Ends the workers that never received work. Running ones end when the C pool is destroyed. */
  dispose(): void;
}

interface WorkerLike {
  postMessage(m: unknown): void;
  terminate(): unknown;
}

/** The spawner logic shared by Node and browsers; `create` starts one worker and reports `ready`. */
export function makeSpawner(
  module: WebAssembly.Module,
  memory: WebAssembly.Memory,
  create: (onReady: () => void, onError: (e: unknown) => void) => WorkerLike,
): ThreadSpawner {
  const ready: WorkerLike[] = [];
  const starting = new Set<WorkerLike>();
  let nextTid = 1;
  let disposed = false;
  const start = (): Promise<WorkerLike | undefined> =>
    new Promise((resolve) => {
      let w: WorkerLike | undefined;
      try {
        w = create(
          () => {
            if (!w) return;
            starting.delete(w);
            if (disposed) {
              w.terminate();
              resolve(undefined);
              return;
            }
            ready.push(w);
            resolve(w);
          },
          () => {
            if (w) starting.delete(w);
            resolve(undefined);
          },
        );
        starting.add(w);
      } catch {
        resolve(undefined);
      }
    });
  return {
    async prestart(n, timeoutMs) {
      if (n <= 0) return;
      const all = Promise.all(Array.from({ length: n }, start));
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        all,
        new Promise((r) => {
          timer = setTimeout(r, timeoutMs);
        }),
      ]);
      clearTimeout(timer);
    },
    spawn(arg) {
      if (disposed) return -1;
      let w = ready.shift();
      if (!w) {
        // None started ahead: a new one begins when it boots (the pool's caller does all the work
        // until then; in a browser that is after the calling thread yields).
        try {
          let created: WorkerLike | undefined;
          created = create(
            () => {
              if (created) starting.delete(created);
            },
            () => {
              if (created) starting.delete(created);
            },
          );
          starting.add(created);
          w = created;
        } catch {
          return -1;
        }
      }
      const tid = nextTid++;
      w.postMessage({ module, memory, tid, arg });
      return tid;
    },
    dispose() {
      disposed = true;
      for (const w of ready.splice(0)) w.terminate();
    },
  };
}
