/**
 * Spreads row conversion over worker threads, each with its own @quant/kernels instance
 * (the kernels' quantize call is single-threaded, so parallelism comes from here).
 */
import { Worker } from 'node:worker_threads';
import { InlineRowQuantizer, NonFiniteError, type RowQuantizer } from './row-quantizer.js';

interface Pending {
  resolve(b: Uint8Array): void;
  reject(e: Error): void;
}

/** Smallest chunk worth sending to a worker (elements), as llama.cpp's 32*512. */
const MIN_CHUNK = 32 * 512;
const START_TIMEOUT_MS = 30_000;

function workerUrl(): URL {
  return new URL('./quantize-worker.mjs', import.meta.url);
}

function startWorker(): Promise<Worker> {
  return new Promise((resolve, reject) => {
    let w: Worker;
    try {
      w = new Worker(workerUrl());
    } catch (e) {
      reject(e as Error);
      return;
    }
    const timer = setTimeout(() => {
      void w.terminate();
      reject(new Error('worker did not start in time'));
    }, START_TIMEOUT_MS);
    const onMessage = (m: { ready?: boolean }) => {
      if (!m.ready) return;
      clearTimeout(timer);
      w.off('message', onMessage);
      w.off('error', onError);
      w.off('exit', onExit);
      resolve(w);
    };
    const onError = (e: Error) => {
      clearTimeout(timer);
      reject(e);
    };
    const onExit = (code: number) => {
      clearTimeout(timer);
      reject(new Error(`worker exited with code ${code} while starting`));
    };
    w.on('message', onMessage);
    w.once('error', onError);
    w.once('exit', onExit);
  });
}

export class WorkerPoolRowQuantizer implements RowQuantizer {
  readonly mode = 'worker_threads' as const;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private failure: Error | undefined;

  private constructor(
    private readonly workers: Worker[],
    private readonly inline: InlineRowQuantizer,
  ) {
    for (const w of workers) {
      w.on(
        'message',
        (m: { id: number; buf?: ArrayBuffer; error?: { message: string; nonFinite?: number } }) => {
          const p = this.pending.get(m.id);
          if (!p) return;
          this.pending.delete(m.id);
          if (m.error)
            p.reject(
              m.error.nonFinite === undefined
                ? new Error(m.error.message)
                : new NonFiniteError(m.error.nonFinite),
            );
          else p.resolve(new Uint8Array(m.buf as ArrayBuffer));
        },
      );
      const fail = (e: Error) => {
        this.failure ??= e;
        for (const p of this.pending.values()) p.reject(e);
        this.pending.clear();
      };
      w.on('error', fail);
      w.on('exit', (code) => {
        if (code !== 0) fail(new Error(`a quantize worker exited with code ${code}`));
      });
    }
  }

  get threads(): number {
    return this.workers.length;
  }

  /**
   * Starts `n` workers; if they cannot start (e.g. @quant/kernels is not built), returns the
   * in-thread quantizer with a note saying why.
   */
  static async create(n: number): Promise<RowQuantizer> {
    if (n <= 1) return InlineRowQuantizer.create();
    const started = await Promise.allSettled(Array.from({ length: n }, () => startWorker()));
    const ok = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const bad = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (bad) {
      await Promise.all(ok.map((w) => w.terminate()));
      return InlineRowQuantizer.create(
        `worker threads unavailable (${(bad.reason as Error).message}); quantizing in one thread`,
      );
    }
    return new WorkerPoolRowQuantizer(ok, await InlineRowQuantizer.create());
  }

  private run(
    w: Worker,
    srcType: number,
    dstType: number,
    src: Uint8Array,
    rows: number,
    cols: number,
  ): Promise<Uint8Array> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    // Own, exactly-sized buffer so it can be transferred without copying again.
    const own = new Uint8Array(src.byteLength);
    own.set(src);
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      w.postMessage({ id, srcType, dstType, rows, cols, buf: own.buffer }, [own.buffer]);
    });
  }

  async convert(
    srcType: number,
    dstType: number,
    src: Uint8Array,
    rows: number,
    cols: number,
  ): Promise<Uint8Array> {
    const maxChunks = Math.max(1, Math.min(this.workers.length, Math.floor((rows * cols) / MIN_CHUNK)));
    const per = Math.ceil(rows / maxChunks);
    const srcRowBytes = src.byteLength / rows;
    const jobs: Promise<Uint8Array>[] = [];
    for (let r = 0, i = 0; r < rows; r += per, i++) {
      const n = Math.min(per, rows - r);
      const first = r * cols;
      jobs.push(
        this.run(
          this.workers[i] as Worker,
          srcType,
          dstType,
          src.subarray(r * srcRowBytes, (r + n) * srcRowBytes),
          n,
          cols,
        ).catch((e: unknown) => {
          // Report the position within the whole slab, not within this worker's chunk.
          throw e instanceof NonFiniteError ? new NonFiniteError(first + e.index) : e;
        }),
      );
    }
    const parts = await Promise.all(jobs);
    if (parts.length === 1) return parts[0] as Uint8Array;
    const out = new Uint8Array(parts.reduce((s, p) => s + p.byteLength, 0));
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.byteLength;
    }
    return out;
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
    await this.inline.close();
  }
}
