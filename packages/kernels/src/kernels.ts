/**
 * The backend-independent facade: every public op validates its arguments here, then calls the
 * C library through a Host (native addon or wasm module).
 */
import { KernelError } from './errors';
import {
  checkKvTypeForHead,
  kvCacheBytes,
  kvModeBits,
  kvRotationSizes,
  kvRowBytes,
  kvStateBytes,
  kvTypeInfo,
  kvTypes,
  STANDARD_PATH_V_TYPES,
} from './kv-types';
import type { Host } from './raw-binding';
import {
  type ActiveRun,
  afterMacrotask,
  busyError,
  CommandList,
  type OpInfo,
  recordingError,
  statusError,
  wrapHost,
} from './run';
import { KERNEL_TYPES, kernelType, typeBytes } from './type-table';
import type {
  AttentionParams,
  BackendName,
  F32Buffer,
  GGMLTypeId,
  KernelMode,
  Kernels,
  KVBatch,
  KVBatchOptions,
  KVCache,
  KVCacheOptions,
  KVCacheTypes,
  KVSegment,
  KVShiftParams,
  QuantizeOptions,
  RopeParams,
  SimdLevel,
  Weight,
} from './types';
import { finite, fits, int } from './validate';

interface Disposable {
  dispose(): void;
}

class F32BufferImpl implements F32Buffer {
  #disposed = false;
  /** @internal Id of the last run that recorded this buffer (see KernelsImpl.buf). */
  stamp = 0;
  constructor(
    readonly owner: KernelsImpl,
    readonly length: number,
    /** @internal The backend memory; a run keeps it reachable while commands point into it. */
    public block: { ptr: number; view(): Float32Array; free(): void } | undefined,
  ) {}
  get disposed(): boolean {
    return this.#disposed;
  }
  /** Pointer for C; throws if disposed. */
  ptr(what: string): number {
    if (this.#disposed || !this.block)
      throw new KernelError('DISPOSED', `${what}: the F32Buffer was disposed`);
    return this.block.ptr;
  }
  private live(what: string): Float32Array {
    if (this.#disposed || !this.block)
      throw new KernelError('DISPOSED', `${what}: the F32Buffer was disposed`);
    this.owner.checkAccess(this, what);
    return this.block.view();
  }
  view(): Float32Array {
    return this.live('view()');
  }
  write(src: ArrayLike<number>, offset = 0): void {
    int(offset, 'write(offset)');
    fits(this.length, offset, src.length, 'F32Buffer.write');
    this.live('F32Buffer.write').set(src, offset);
  }
  read(offset = 0, length?: number): Float32Array {
    int(offset, 'read(offset)');
    const n = length ?? this.length - offset;
    int(n, 'read(length)');
    fits(this.length, offset, n, 'F32Buffer.read');
    return this.live('F32Buffer.read').slice(offset, offset + n);
  }
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.block?.free();
    this.block = undefined;
    this.owner.forget(this);
  }
}

class WeightImpl implements Weight {
  #disposed = false;
  /** @internal Id of the last run that recorded this weight. */
  stamp = 0;
  constructor(
    readonly owner: KernelsImpl,
    readonly type: GGMLTypeId,
    readonly rows: number,
    readonly cols: number,
    readonly byteLength: number,
    private address: number,
    private releaseFn: () => void,
    /** @internal The type code C gets: ggml type | layout << 8 (csrc/plan.h; layout 0 = as in the file). */
    readonly code: number = type,
  ) {}
  get disposed(): boolean {
    return this.#disposed;
  }
  ptr(what: string): number {
    if (this.#disposed) throw new KernelError('DISPOSED', `${what}: the Weight was disposed`);
    return this.address;
  }
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.releaseFn();
    this.address = 0;
    this.owner.forget(this);
  }
}

class KVCacheImpl implements KVCache {
  #disposed = false;
  readonly kvDim: number;
  readonly byteLength: number;
  /** Row bytes of K and V. */
  readonly kRowBytes: number;
  readonly vRowBytes: number;
  /** The C type codes: ggml type id | rotation size << 8. */
  readonly kCode: number;
  readonly vCode: number;
  /** Bytes of state after the rows (an iq4_nlr K's smoothing scales). */
  readonly stateBytes: number;
  constructor(
    readonly owner: KernelsImpl,
    readonly types: Readonly<KVCacheTypes>,
    readonly rotation: { readonly k: number; readonly v: number },
    readonly layers: number,
    readonly contextSize: number,
    readonly kvHeads: number,
    readonly headDim: number,
    private data: number,
  ) {
    this.kvDim = kvHeads * headDim;
    this.kRowBytes = kvRowBytes(types.k, this.kvDim);
    this.vRowBytes = kvRowBytes(types.v, this.kvDim);
    this.stateBytes = kvStateBytes({ layers, kvHeads, headDim }, types.k);
    this.byteLength = layers * contextSize * (this.kRowBytes + this.vRowBytes) + this.stateBytes;
    // ggml type id | rotation size << 8 | mode bits << 20 (csrc/op-table.c kv_from)
    this.kCode = kvTypeInfo(types.k).id | (rotation.k << 8) | (kvModeBits(types.k, 'k') << 20);
    this.vCode = kvTypeInfo(types.v).id | (rotation.v << 8) | (kvModeBits(types.v, 'v') << 20);
  }
  get disposed(): boolean {
    return this.#disposed;
  }
  ptr(what: string): number {
    if (this.#disposed) throw new KernelError('DISPOSED', `${what}: the KVCache was disposed`);
    return this.data;
  }
  /** Byte offset and length of the K or V rows [0, n) of `layer`, after checking the arguments. */
  private span(what: string, layer: number, part: 'k' | 'v', n: number): [number, number] {
    int(layer, `${what}(layer)`, 0, this.layers - 1);
    if (part !== 'k' && part !== 'v')
      throw new KernelError('INVALID_ARGUMENT', `${what}(part): expected 'k' or 'v', got ${String(part)}`);
    int(n, `${what}(nTokens)`, 0, this.contextSize);
    const base = layer * this.contextSize * (this.kRowBytes + this.vRowBytes);
    return part === 'v'
      ? [base + this.contextSize * this.kRowBytes, n * this.vRowBytes]
      : [base, n * this.kRowBytes];
  }
  readRows(layer: number, part: 'k' | 'v', nTokens: number): Uint8Array {
    const data = this.ptr('KVCache.readRows');
    this.owner.refuseDuringRun('KVCache.readRows');
    const [off, len] = this.span('KVCache.readRows', layer, part, nTokens);
    const host = this.owner.host;
    const o = host.output(len);
    try {
      if (len) host.raw.copyBytes(o.ptr, data + off, len);
      return o.take().slice();
    } finally {
      o.release();
    }
  }
  writeRows(layer: number, part: 'k' | 'v', nTokens: number, bytes: Uint8Array): void {
    const data = this.ptr('KVCache.writeRows');
    this.owner.refuseDuringRun('KVCache.writeRows');
    const [off, len] = this.span('KVCache.writeRows', layer, part, nTokens);
    if (!(bytes instanceof Uint8Array) || bytes.length !== len)
      throw new KernelError(
        'INVALID_ARGUMENT',
        `KVCache.writeRows: expected ${len} bytes for ${nTokens} ${part.toUpperCase()} rows of this cache, got ${bytes instanceof Uint8Array ? bytes.length : typeof bytes}`,
      );
    if (!len) return;
    const host = this.owner.host;
    const pin = host.pin(bytes, false);
    try {
      host.raw.copyBytes(data + off, pin.ptr, len);
    } finally {
      pin.release();
    }
  }
  readState(): Uint8Array {
    const data = this.ptr('KVCache.readState');
    this.owner.refuseDuringRun('KVCache.readState');
    const len = this.stateBytes;
    if (!len) return new Uint8Array(0);
    const host = this.owner.host;
    const o = host.output(len);
    try {
      host.raw.copyBytes(o.ptr, data + this.byteLength - len, len);
      return o.take().slice();
    } finally {
      o.release();
    }
  }
  writeState(bytes: Uint8Array): void {
    const data = this.ptr('KVCache.writeState');
    this.owner.refuseDuringRun('KVCache.writeState');
    const len = this.stateBytes;
    if (!(bytes instanceof Uint8Array) || bytes.length !== len)
      throw new KernelError(
        'INVALID_ARGUMENT',
        `KVCache.writeState: expected ${len} bytes of state for this cache (${this.types.k} K), got ${bytes instanceof Uint8Array ? bytes.length : typeof bytes}`,
      );
    if (!len) return;
    const host = this.owner.host;
    const pin = host.pin(bytes, false);
    try {
      host.raw.copyBytes(data + this.byteLength - len, pin.ptr, len);
    } finally {
      pin.release();
    }
  }
  store(layer: number, pos: number, nTokens: number, k: F32Buffer, v: F32Buffer): void {
    this.storeAt(layer, pos, nTokens, k, v, 0);
  }
  /** @internal store() reading k and v from element `offset` on. */
  storeAt(layer: number, pos: number, nTokens: number, k: F32Buffer, v: F32Buffer, offset: number): void {
    const data = this.ptr('KVCache.store');
    int(layer, 'store(layer)', 0, this.layers - 1);
    int(pos, 'store(pos)');
    int(nTokens, 'store(nTokens)');
    if (pos + nTokens > this.contextSize) {
      throw new KernelError(
        'OUT_OF_BOUNDS',
        `KVCache.store: positions ${pos}..${pos + nTokens - 1} exceed the context size ${this.contextSize}; shift the cache or make a larger one`,
      );
    }
    const n = nTokens * this.kvDim;
    const kp = this.owner.buf(k, 'KVCache.store(k)', n, offset);
    const vp = this.owner.buf(v, 'KVCache.store(v)', n, offset);
    if (nTokens === 0) return;
    this.owner.host.raw.kvStore(
      data,
      this.layers,
      this.contextSize,
      this.kvDim,
      this.kCode,
      this.vCode,
      layer,
      pos,
      nTokens,
      kp,
      vp,
    );
  }
  shift(from: number, to: number, count: number): void {
    const data = this.ptr('KVCache.shift');
    int(from, 'shift(from)');
    int(to, 'shift(to)');
    int(count, 'shift(count)');
    if (from + count > this.contextSize || to + count > this.contextSize) {
      throw new KernelError(
        'OUT_OF_BOUNDS',
        `KVCache.shift: moving ${count} positions from ${from} to ${to} leaves the context (size ${this.contextSize})`,
      );
    }
    if (count === 0 || from === to) return;
    this.owner.host.raw.kvShift(
      data,
      this.layers,
      this.contextSize,
      this.kvDim,
      this.kCode,
      this.vCode,
      from,
      to,
      count,
    );
  }
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.owner.host.free(this.data);
    this.data = 0;
    this.owner.forget(this);
  }
}

/** Runs of consecutive positions: rows [row, row + nTokens) are at pos, pos + 1, …. */
function positionRuns(
  pos: number | Int32Array,
  nTokens: number,
  what: string,
): { row: number; nTokens: number; pos: number }[] {
  if (!(pos instanceof Int32Array)) return [{ row: 0, nTokens, pos: int(pos, what) }];
  if (pos.length < nTokens)
    throw new KernelError('INVALID_ARGUMENT', `${what}: ${pos.length} positions for ${nTokens} tokens`);
  const runs: { row: number; nTokens: number; pos: number }[] = [];
  for (let t = 0; t < nTokens; t++) {
    const p = pos[t] as number;
    if (p < 0) throw new KernelError('INVALID_ARGUMENT', `${what}[${t}] = ${p} is negative`);
    const last = runs[runs.length - 1];
    if (last && last.pos + last.nTokens === p) last.nTokens++;
    else runs.push({ row: t, nTokens: 1, pos: p });
  }
  return runs;
}

/** One sequence's validated attention call (the raw op's arguments; `row` = first row of out and q). */
interface AttentionArgs {
  ctx: number;
  out: number;
  q: number;
  data: number;
  layers: number;
  ctxSize: number;
  kvDim: number;
  kCode: number;
  vCode: number;
  layer: number;
  nTokens: number;
  pos: number;
  row: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  window: number;
  scale: number;
  flash: number;
  softcap: number;
}

class KVBatchImpl implements KVBatch {
  readonly positions: Int32Array;
  constructor(
    readonly owner: KernelsImpl,
    readonly segments: readonly KVSegment[],
    readonly nTokens: number,
    private readonly layerMap: Int32Array | undefined,
  ) {
    this.positions = new Int32Array(nTokens);
    for (const s of segments) for (let t = 0; t < s.nTokens; t++) this.positions[s.row + t] = s.pos + t;
  }
  cacheLayer(layer: number): number {
    if (!this.layerMap) return layer;
    int(layer, 'KVBatch(layer)', 0, this.layerMap.length - 1);
    const l = this.layerMap[layer] as number;
    if (l < 0)
      throw new KernelError(
        'INVALID_ARGUMENT',
        `KVBatch: layer ${layer} keeps no KV cache (its layerMap entry is -1)`,
      );
    return l;
  }
  store(layer: number, k: F32Buffer, v: F32Buffer): void {
    layer = this.cacheLayer(layer);
    const first = this.segments[0] as KVSegment;
    int(layer, 'KVBatch.store(layer)', 0, (first.cache as KVCacheImpl).layers - 1);
    const kvDim = first.cache.kvHeads * first.cache.headDim;
    const kp = this.owner.buf(k, 'KVBatch.store(k)', this.nTokens * kvDim);
    const vp = this.owner.buf(v, 'KVBatch.store(v)', this.nTokens * kvDim);
    const raw = this.owner.host.raw;
    // (one segment of up to 32 rows: a plain store; C splits larger ones into items of 32 rows)
    if ((this.segments.length < 2 && this.nTokens <= 32) || typeof raw.kvStoreSegments !== 'function') {
      for (const s of this.segments)
        (s.cache as KVCacheImpl).storeAt(layer, s.pos, s.nTokens, k, v, s.row * kvDim);
      return;
    }
    // One op for every sequence (C spreads the stores over the thread pool, a prompt's rows too).
    const pin = this.owner.host.pin(this.descriptor('KVBatch.store'), false);
    try {
      const rc = raw.kvStoreSegments(
        this.owner.contextPtr('KVBatch.store'),
        this.segments.length,
        pin.ptr,
        layer,
        kp,
        vp,
      );
      if (rc !== 0)
        throw new KernelError(rc === -2 ? 'OUT_OF_MEMORY' : 'INTERNAL', `KVBatch.store: C returned ${rc}`);
    } finally {
      pin.release();
    }
  }
  #desc: Float64Array | undefined;
  /**
   * The segments as the C ops' segment lists take them (9 doubles each: cache data, layers, context
   * size, kvDim, K and V type codes, nTokens, pos, row), built once per batch; every call checks that
   * the caches are still alive.
   */
  descriptor(what: string): Float64Array {
    if (this.#desc) {
      for (const s of this.segments) (s.cache as KVCacheImpl).ptr(what);
      return this.#desc;
    }
    const d = new Float64Array(this.segments.length * 9);
    this.segments.forEach((s, i) => {
      const c = s.cache as KVCacheImpl;
      d.set(
        [c.ptr(what), c.layers, c.contextSize, c.kvDim, c.kCode, c.vCode, s.nTokens, s.pos, s.row],
        i * 9,
      );
    });
    this.#desc = d;
    return d;
  }
}

export class KernelsImpl implements Kernels {
  readonly backend: BackendName;
  readonly canMapFiles: boolean;
  readonly maxMemoryBytes: number;
  fallbackReason?: string;
  #ctx: number;
  #simd: SimdLevel;
  #threads: number;
  #live = new Set<Disposable>();
  /**
   * The backend, as every op reaches it: `host.raw.<op>()` runs the op, or records it while a
   * native run() records, and memory releases wait for the active run (see run.ts).
   */
  readonly host: Host;
  /** The run in progress (recording, executing, or — wasm — waiting for its macrotask). */
  #run: ActiveRun | undefined;
  #runSeq = 0;
  #queue: { record: () => void; resolve: () => void; reject: (e: unknown) => void }[] = [];
  #cmds = new CommandList();
  /** Op-table names by index (error messages). */
  #opNames: string[];

  readonly mode: KernelMode;
  readonly isa: string;

  constructor(host: Host, threads: number, forceScalar: boolean, mode?: KernelMode) {
    this.backend = host.kind;
    this.canMapFiles = host.canMapFiles;
    this.maxMemoryBytes = host.maxMemoryBytes;
    const wrapped = wrapHost(
      host,
      () => this.#run,
      (op, args) => this.#cmds.push(op.index, args, op.nargs),
      host.kind === 'native' && typeof host.raw.exec === 'function',
    );
    this.host = wrapped.host;
    this.#opNames = [...wrapped.ops.values()].map((o: OpInfo) => o.name);
    this.#ctx = host.raw.createContext(threads, forceScalar ? 1 : 0);
    this.#simd = host.raw.simd(this.#ctx) as SimdLevel;
    this.#threads = host.raw.threads(this.#ctx);
    // Matmul mode (csrc/plan.h): the option, else env QUANT_KERNELS_MODE (read by C too), else fast.
    const envMode = typeof process !== 'undefined' ? process.env?.QUANT_KERNELS_MODE : undefined;
    this.mode = mode ?? (envMode === 'parity' ? 'parity' : 'fast');
    host.raw.setMode(this.#ctx, this.mode === 'parity' ? 1 : 0);
    this.isa =
      ['scalar', 'avx2', 'avx512', 'avx512vnni', 'neon', 'simd128'][host.raw.planIsa(this.#ctx)] ?? 'scalar';
  }

  /**
   * A weight at `src` (plain ggml layout, `bytes` long) in the layout the matmul plan wants on this
   * context: repacked into new backend memory when the plan says so (then `release` frees the
   * source at once, so the two copies never coexist beyond one tensor), else as it is.
   */
  private placeWeight(
    type: GGMLTypeId,
    rows: number,
    cols: number,
    bytes: number,
    src: number,
    release: () => void,
    what: string,
  ): WeightImpl {
    const raw = this.host.raw;
    const layout = this.backend === 'native' ? raw.repackPlan(this.#ctx, type, rows, cols) : 0;
    if (layout === 0) return new WeightImpl(this, type, rows, cols, bytes, src, release, type);
    // not zeroed: repacking writes every byte (zeroing 2+ GB first doubled the load time); flag 2
    // maps all its pages in one call first (a page fault per page cost 13 CPU-s for 2.4 GB on a VM)
    const dst = raw.alloc(bytes, 2);
    if (!dst) {
      release();
      throw new KernelError('OUT_OF_MEMORY', `${what}: cannot allocate ${bytes} bytes to repack the weight`);
    }
    const rc = raw.repack(this.#ctx, type, layout, src, dst, rows, cols);
    release();
    if (rc !== 0) {
      this.host.free(dst);
      throw new KernelError('INTERNAL', `${what}: repacking returned ${rc}`);
    }
    const host = this.host;
    return new WeightImpl(this, type, rows, cols, bytes, dst, () => host.free(dst), type | (layout << 8));
  }

  get busy(): boolean {
    return this.#run !== undefined;
  }

  run(record: () => void): Promise<void> {
    if (typeof record !== 'function')
      return Promise.reject(
        new KernelError('INVALID_ARGUMENT', 'run(record): expected a function that issues ops'),
      );
    // A nested run() is a programming error: thrown, so that it rejects the outer run.
    if (this.#run?.phase === 'recording') throw recordingError('run');
    if (this.#run !== undefined || this.#queue.length > 0)
      return new Promise<void>((resolve, reject) => this.#queue.push({ record, resolve, reject }));
    return this.#startRun(record);
  }

  #startRun(record: () => void): Promise<void> {
    if (!this.#ctx)
      return Promise.reject(new KernelError('DISPOSED', 'run: this Kernels instance was disposed'));
    const run: ActiveRun = { id: ++this.#runSeq, phase: 'recording', keep: [], deferred: [] };
    this.#run = run;
    const cmds = this.#cmds;
    cmds.reset();
    try {
      const r = record() as unknown;
      if (r !== null && typeof r === 'object' && typeof (r as { then?: unknown }).then === 'function') {
        throw new KernelError(
          'INVALID_ARGUMENT',
          'run(record): record returned a promise; it must issue its ops synchronously (ops after an await would not be part of the run)',
        );
      }
      if (!this.#ctx)
        throw new KernelError('DISPOSED', 'run: this Kernels instance was disposed while recording');
    } catch (e) {
      this.#endRun(run);
      return Promise.reject(e);
    }
    run.phase = 'executing';
    const exec = this.host.raw.exec;
    if (this.backend === 'wasm' || typeof exec !== 'function') {
      // wasm: the ops ran inline while recording; yield once so awaiting run() always lets the
      // event loop turn.
      return new Promise<void>((resolve, reject) =>
        afterMacrotask(() => {
          const failure = this.#endRun(run);
          if (failure === undefined) resolve();
          else reject(failure);
        }),
      );
    }
    const raw = this.host.raw;
    const faults = typeof raw.mapFaults === 'function' ? raw.mapFaults() : 0;
    let pending: Promise<undefined | [number, number]>;
    try {
      pending = exec.call(raw, this.#ctx, cmds.f64, cmds.count);
    } catch (e) {
      this.#endRun(run);
      return Promise.reject(
        new KernelError('INTERNAL', `run: the command list was refused: ${(e as Error).message}`, {
          cause: e,
        }),
      );
    }
    const count = cmds.count;
    return pending.then(
      (failed) => {
        let err: unknown;
        if (failed) {
          const [index, rc] = failed;
          const name = this.#opNames[cmds.codes[index] as number] ?? 'op';
          err = statusError(name, rc, ` (command ${index + 1} of ${count} in kernels.run())`);
        } else if (typeof raw.mapFaults === 'function' && raw.mapFaults() !== faults) {
          try {
            this.host.checkMappedFiles?.();
          } catch (e) {
            err = e;
          }
        }
        const failure = this.#endRun(run);
        if (err !== undefined) throw err;
        if (failure !== undefined) throw failure;
      },
      (e) => {
        this.#endRun(run);
        throw new KernelError('INTERNAL', `run: ${(e as Error).message}`, { cause: e });
      },
    );
  }

  /**
   * Ends the active run: schedules the next queued run and releases what was deferred. Returns the
   * first error a release threw (every release runs), or undefined.
   */
  #endRun(run: ActiveRun): unknown {
    this.#run = undefined;
    run.keep.length = 0;
    if (this.#queue.length > 0)
      queueMicrotask(() => {
        if (this.#run !== undefined) return;
        const next = this.#queue.shift();
        if (next) this.#startRun(next.record).then(next.resolve, next.reject);
      });
    // Every deferred release runs even if one throws; the first error then rejects this run.
    let failure: unknown;
    for (const release of run.deferred) {
      try {
        release();
      } catch (e) {
        failure ??= e;
      }
    }
    return failure;
  }

  /** Throws RECORDING while a run records and (if `whileExecuting`) BUSY while one executes. */
  /** @internal */
  refuseDuringRun(what: string, whileExecuting = true): void {
    const r = this.#run;
    if (r === undefined) return;
    if (r.phase === 'recording') throw recordingError(what);
    if (whileExecuting) throw busyError(what);
  }

  /** @internal F32Buffer view/read/write: refused while recording, and while a run uses the buffer. */
  checkAccess(b: F32BufferImpl, what: string): void {
    const r = this.#run;
    if (r === undefined) return;
    if (r.phase === 'recording') throw recordingError(what);
    if (b.stamp === r.id) throw busyError(what);
  }

  get simd(): SimdLevel {
    return this.#simd;
  }
  get threads(): number {
    return this.#threads;
  }

  private ctx(what: string): number {
    if (!this.#ctx) throw new KernelError('DISPOSED', `${what}: this Kernels instance was disposed`);
    return this.#ctx;
  }

  /** @internal The kernel context's pointer (KVBatch's ops). */
  contextPtr(what: string): number {
    return this.ctx(what);
  }

  /** @internal */
  forget(o: Disposable): void {
    this.#live.delete(o);
  }

  /** @internal Pointer of `b` after checking it belongs here, is live and holds `need` elements from `offset`. */
  buf(b: F32Buffer, what: string, need: number, offset = 0): number {
    if (!(b instanceof F32BufferImpl) || b.owner !== this) {
      throw new KernelError(
        'FOREIGN_OBJECT',
        `${what}: expected an F32Buffer made by this Kernels instance's f32()`,
      );
    }
    const p = b.ptr(what);
    fits(b.length, offset, need, what);
    const r = this.#run;
    if (r !== undefined) {
      if (r.phase === 'executing') throw busyError(what);
      if (b.stamp !== r.id) {
        // The command list is now the only thing that may reference this memory: keep it.
        b.stamp = r.id;
        r.keep.push(b.block);
      }
    }
    return p + offset * 4;
  }

  private weightOf(w: Weight, what: string): WeightImpl {
    if (!(w instanceof WeightImpl) || w.owner !== this) {
      throw new KernelError('FOREIGN_OBJECT', `${what}: expected a Weight made by this Kernels instance`);
    }
    w.ptr(what);
    const r = this.#run;
    if (r !== undefined && w.stamp !== r.id) {
      w.stamp = r.id;
      r.keep.push(w);
    }
    return w;
  }

  setThreads(n: number): void {
    this.refuseDuringRun('setThreads');
    int(n, 'setThreads(n)', 1, 256);
    if (this.backend === 'wasm' && !this.host.threaded) return;
    this.#threads = this.host.raw.setThreads(this.ctx('setThreads'), n);
  }

  // ---- memory ----
  f32(length: number): F32Buffer {
    this.ctx('f32');
    int(length, 'f32(length)');
    if (length * 4 > this.maxMemoryBytes) {
      throw new KernelError(
        'OUT_OF_MEMORY',
        `f32(${length}): ${length * 4} bytes exceed this backend's limit of ${this.maxMemoryBytes}`,
      );
    }
    const b = new F32BufferImpl(this, length, this.host.floats(length));
    this.#live.add(b);
    return b;
  }

  private checkWeightShape(type: GGMLTypeId, rows: number, cols: number, what: string) {
    const info = kernelType(type, what);
    int(rows, `${what}(rows)`, 1);
    int(cols, `${what}(cols)`, 1);
    if (cols % info.blockSize !== 0) {
      throw new KernelError(
        'BLOCK_MISALIGNED',
        `${what}: cols = ${cols} is not a multiple of ${info.name}'s block size ${info.blockSize}`,
      );
    }
    return { info, bytes: rows * typeBytes(info, cols) };
  }

  weight(type: GGMLTypeId, rows: number, cols: number, data: Uint8Array): Weight {
    this.ctx('weight');
    this.refuseDuringRun('weight', false);
    const { bytes } = this.checkWeightShape(type, rows, cols, 'weight');
    if (!(data instanceof Uint8Array))
      throw new KernelError('INVALID_ARGUMENT', 'weight: data must be a Uint8Array');
    if (data.byteLength < bytes) {
      throw new KernelError(
        'OUT_OF_BOUNDS',
        `weight: ${rows}×${cols} of type ${type} needs ${bytes} bytes but data holds ${data.byteLength}`,
      );
    }
    const pinned = this.host.pin(data.byteLength === bytes ? data : data.subarray(0, bytes), true);
    const w = this.placeWeight(type, rows, cols, bytes, pinned.ptr, () => pinned.release(), 'weight');
    this.#live.add(w);
    return w;
  }

  weightFromFile(path: string, offset: number, type: GGMLTypeId, rows: number, cols: number): Weight {
    this.ctx('weightFromFile');
    this.refuseDuringRun('weightFromFile', false);
    if (!this.canMapFiles)
      throw new KernelError(
        'NOT_SUPPORTED',
        `weightFromFile: the ${this.backend} backend cannot map files; read the bytes and use weight()`,
      );
    if (typeof path !== 'string' || path.length === 0)
      throw new KernelError('INVALID_ARGUMENT', 'weightFromFile: path must be a non-empty string');
    int(offset, 'weightFromFile(offset)');
    const { bytes } = this.checkWeightShape(type, rows, cols, 'weightFromFile');
    const r = this.host.raw.mapFile(path, offset, bytes);
    if (typeof r === 'number') {
      const why = r === -2 ? 'the tensor extends past the end of the file' : `errno ${-r}`;
      throw new KernelError(
        'MAP_FAILED',
        `weightFromFile: cannot map ${bytes} bytes at offset ${offset} of ${path}: ${why}`,
      );
    }
    const [ptr, base, len] = r;
    const raw = this.host.raw;
    const w = this.placeWeight(type, rows, cols, bytes, ptr, () => raw.unmap(base, len), 'weightFromFile');
    this.#live.add(w);
    return w;
  }

  checkMappedFiles(): void {
    this.ctx('checkMappedFiles');
    this.host.checkMappedFiles?.();
  }

  kvCache(opts: KVCacheOptions): KVCache {
    this.ctx('kvCache');
    const layers = int(opts?.layers, 'kvCache(layers)', 1);
    const contextSize = int(opts.contextSize, 'kvCache(contextSize)', 1);
    const kvHeads = int(opts.kvHeads, 'kvCache(kvHeads)', 1);
    const headDim = int(opts.headDim, 'kvCache(headDim)', 1);
    const types = kvTypes(opts.type);
    checkKvTypeForHead(types.k, headDim, 'kvCache(type.k)');
    checkKvTypeForHead(types.v, headDim, 'kvCache(type.v)');
    const rotation = kvRotationSizes(types, headDim, opts.rotation);
    const bytes = kvCacheBytes({ layers, contextSize, kvHeads, headDim }, types);
    if (bytes > this.maxMemoryBytes) {
      throw new KernelError(
        'OUT_OF_MEMORY',
        `kvCache: ${bytes} bytes exceed this backend's limit of ${this.maxMemoryBytes}`,
      );
    }
    // not zeroed: attention reads only stored positions, so a long cache takes memory as it fills
    const data = this.host.alloc(bytes, false);
    const c = new KVCacheImpl(
      this,
      Object.freeze(types),
      Object.freeze(rotation),
      layers,
      contextSize,
      kvHeads,
      headDim,
      data,
    );
    this.#live.add(c);
    // smoothing scales start at 1 (none) until a store at position 0 sets them
    if (c.stateBytes) {
      const pin = this.host.pin(new Uint8Array(new Float32Array(c.stateBytes / 4).fill(1).buffer), false);
      try {
        this.host.raw.copyBytes(data + c.byteLength - c.stateBytes, pin.ptr, c.stateBytes);
      } finally {
        pin.release();
      }
    }
    return c;
  }

  // ---- (de)quantization ----
  dequantize(type: GGMLTypeId, data: Uint8Array, n: number): Float32Array {
    this.ctx('dequantize');
    this.refuseDuringRun('dequantize');
    const info = kernelType(type, 'dequantize');
    int(n, 'dequantize(n)');
    if (n % info.blockSize)
      throw new KernelError(
        'BLOCK_MISALIGNED',
        `dequantize: n = ${n} is not a multiple of ${info.name}'s block size ${info.blockSize}`,
      );
    if (!(data instanceof Uint8Array))
      throw new KernelError('INVALID_ARGUMENT', 'dequantize: data must be a Uint8Array');
    const bytes = typeBytes(info, n);
    if (data.byteLength < bytes)
      throw new KernelError(
        'OUT_OF_BOUNDS',
        `dequantize: ${n} elements of ${info.name} need ${bytes} bytes, data holds ${data.byteLength}`,
      );
    if (n === 0) return new Float32Array(0);
    const src = this.host.pin(data.subarray(0, bytes), false);
    const out = this.host.output(n * 4);
    try {
      const rc = this.host.raw.dequantize(type, src.ptr, out.ptr, n);
      if (rc !== 0) throw new KernelError('INTERNAL', `dequantize: C returned ${rc}`);
      const b = out.take();
      return new Float32Array(b.buffer, b.byteOffset, n);
    } finally {
      src.release();
      out.release();
    }
  }

  quantize(
    type: GGMLTypeId,
    src: Float32Array,
    rows: number,
    cols: number,
    options?: QuantizeOptions,
  ): Uint8Array {
    this.ctx('quantize');
    this.refuseDuringRun('quantize');
    const info = kernelType(type, 'quantize');
    if (!info.quantizable)
      throw new KernelError(
        'UNSUPPORTED_TYPE',
        `quantize: cannot quantize to ${info.name} (supported: ${KERNEL_TYPES.filter((t) => t.quantizable)
          .map((t) => t.name)
          .join(', ')})`,
      );
    int(rows, 'quantize(rows)');
    int(cols, 'quantize(cols)');
    if (cols % info.blockSize)
      throw new KernelError(
        'BLOCK_MISALIGNED',
        `quantize: cols = ${cols} is not a multiple of ${info.name}'s block size ${info.blockSize}`,
      );
    if (!(src instanceof Float32Array))
      throw new KernelError('INVALID_ARGUMENT', 'quantize: src must be a Float32Array');
    fits(src.length, 0, rows * cols, 'quantize(src)');
    const bytes = rows * typeBytes(info, cols);
    if (bytes === 0) return new Uint8Array(0);
    const s = this.host.pin(src.subarray(0, rows * cols), false);
    const out = this.host.output(bytes);
    try {
      const rc = this.host.raw.quantize(type, s.ptr, out.ptr, rows, cols, options?.refine ? 1 : 0);
      if (rc !== 0) throw new KernelError('INTERNAL', `quantize: C returned ${rc}`);
      return out.take();
    } finally {
      s.release();
      out.release();
    }
  }

  // ---- linear algebra ----
  matmul(out: F32Buffer, w: Weight, x: F32Buffer, nTokens: number): void {
    const ctx = this.ctx('matmul');
    const wi = this.weightOf(w, 'matmul(w)');
    int(nTokens, 'matmul(nTokens)', 1);
    if (out === x) throw new KernelError('ALIASING', 'matmul: out and x must be different buffers');
    const op = this.buf(out, 'matmul(out)', nTokens * wi.rows);
    const xp = this.buf(x, 'matmul(x)', nTokens * wi.cols);
    const rc = this.host.raw.matmul(ctx, op, wi.ptr('matmul'), wi.code, wi.rows, wi.cols, xp, nTokens);
    if (rc !== 0) throw new KernelError(rc === -2 ? 'OUT_OF_MEMORY' : 'INTERNAL', `matmul: C returned ${rc}`);
  }

  getRows(out: F32Buffer, w: Weight, ids: ArrayLike<number>): void {
    this.ctx('getRows');
    const wi = this.weightOf(w, 'getRows(w)');
    const n = ids?.length;
    int(n, 'getRows(ids.length)');
    const idArr = new Int32Array(n);
    for (let i = 0; i < n; i++) idArr[i] = int(ids[i], `getRows(ids[${i}])`, 0, wi.rows - 1);
    const op = this.buf(out, 'getRows(out)', n * wi.cols);
    if (n === 0) return;
    const pinned = this.host.pin(idArr, false);
    try {
      const rc = this.host.raw.getRows(wi.ptr('getRows'), wi.code, wi.rows, wi.cols, pinned.ptr, n, op);
      if (rc !== 0) throw new KernelError('INTERNAL', `getRows: C returned ${rc}`);
    } finally {
      pinned.release();
    }
  }

  // ---- elementwise and norms ----
  rmsNorm(out: F32Buffer, x: F32Buffer, weight: F32Buffer, rows: number, cols: number, eps: number): void {
    this.ctx('rmsNorm');
    int(rows, 'rmsNorm(rows)');
    int(cols, 'rmsNorm(cols)', 1);
    finite(eps, 'rmsNorm(eps)');
    const o = this.buf(out, 'rmsNorm(out)', rows * cols);
    const xp = this.buf(x, 'rmsNorm(x)', rows * cols);
    const wp = this.buf(weight, 'rmsNorm(weight)', cols);
    if (rows) this.host.raw.rmsNorm(o, xp, wp, rows, cols, eps);
  }

  layerNorm(
    out: F32Buffer,
    x: F32Buffer,
    weight: F32Buffer | undefined,
    bias: F32Buffer | undefined,
    rows: number,
    cols: number,
    eps: number,
  ): void {
    this.ctx('layerNorm');
    int(rows, 'layerNorm(rows)');
    int(cols, 'layerNorm(cols)', 1);
    finite(eps, 'layerNorm(eps)');
    if (eps < 0) throw new KernelError('INVALID_ARGUMENT', `layerNorm: eps = ${eps} must be ≥ 0`);
    const o = this.buf(out, 'layerNorm(out)', rows * cols);
    const xp = this.buf(x, 'layerNorm(x)', rows * cols);
    const wp = weight === undefined ? 0 : this.buf(weight, 'layerNorm(weight)', cols);
    const bp = bias === undefined ? 0 : this.buf(bias, 'layerNorm(bias)', cols);
    if (rows) this.host.raw.layerNorm(o, xp, wp, bp, rows, cols, eps);
  }

  gelu(out: F32Buffer, x: F32Buffer, n: number): void {
    this.ctx('gelu');
    int(n, 'gelu(n)');
    const o = this.buf(out, 'gelu(out)', n);
    const xp = this.buf(x, 'gelu(x)', n);
    if (n) this.host.raw.gelu(o, xp, n);
  }

  geluErf(out: F32Buffer, x: F32Buffer, n: number): void {
    this.ctx('geluErf');
    int(n, 'geluErf(n)');
    const o = this.buf(out, 'geluErf(out)', n);
    const xp = this.buf(x, 'geluErf(x)', n);
    if (n) this.host.raw.geluErf(o, xp, n);
  }

  softcap(out: F32Buffer, x: F32Buffer, cap: number, n: number): void {
    this.ctx('softcap');
    int(n, 'softcap(n)');
    finite(cap, 'softcap(cap)');
    if (!(Math.fround(cap) > 0))
      throw new KernelError('INVALID_ARGUMENT', `softcap: cap = ${cap} must be a positive float32`);
    const o = this.buf(out, 'softcap(out)', n);
    const xp = this.buf(x, 'softcap(x)', n);
    if (n) this.host.raw.softcap(o, xp, cap, n);
  }

  rope(x: F32Buffer, p: RopeParams): void {
    this.ctx('rope');
    const nTokens = int(p?.nTokens, 'rope(nTokens)');
    const runs = positionRuns(p.pos, nTokens, 'rope(pos)');
    const nHeads = int(p.nHeads, 'rope(nHeads)', 1);
    const headDim = int(p.headDim, 'rope(headDim)', 2);
    const nRot = int(p.nRot ?? headDim, 'rope(nRot)', 2, headDim);
    if (nRot % 2) throw new KernelError('INVALID_ARGUMENT', `rope: nRot = ${nRot} must be even`);
    if (p.mode !== 'normal' && p.mode !== 'neox')
      throw new KernelError(
        'INVALID_ARGUMENT',
        `rope: mode must be 'normal' or 'neox', got ${String(p.mode)}`,
      );
    const base = finite(p.freqBase, 'rope(freqBase)');
    if (base <= 0) throw new KernelError('INVALID_ARGUMENT', 'rope: freqBase must be > 0');
    const freqScale = finite(p.freqScale ?? 1, 'rope(freqScale)');
    const attnFactor = finite(p.attnFactor ?? 1, 'rope(attnFactor)');
    const xp = this.buf(x, 'rope(x)', nTokens * nHeads * headDim);
    if (!nTokens) return;
    let factors: { ptr: number; release(): void } | undefined;
    if (p.freqFactors !== undefined) {
      if (!(p.freqFactors instanceof Float32Array))
        throw new KernelError('INVALID_ARGUMENT', 'rope: freqFactors must be a Float32Array');
      fits(p.freqFactors.length, 0, nRot / 2, 'rope(freqFactors)');
      factors = this.host.pin(p.freqFactors.subarray(0, nRot / 2), false);
    }
    try {
      const raw = this.host.raw;
      const rest = [
        nHeads,
        headDim,
        nRot,
        p.mode === 'neox' ? 1 : 0,
        base,
        freqScale,
        attnFactor,
        factors?.ptr ?? 0,
      ] as const;
      if (runs.length > 1 && typeof raw.ropeRows === 'function') {
        // several sequences' rows (positions not one run): one op with a position per row
        const pos = this.host.pin((p.pos as Int32Array).subarray(0, nTokens), false);
        try {
          raw.ropeRows(xp, nTokens, pos.ptr, ...rest);
        } finally {
          pos.release();
        }
        return;
      }
      const rowBytes = nHeads * headDim * 4;
      for (const r of runs) raw.rope(xp + r.row * rowBytes, r.nTokens, r.pos, ...rest);
    } finally {
      factors?.release();
    }
  }

  softmax(x: F32Buffer, rows: number, cols: number): void {
    this.ctx('softmax');
    int(rows, 'softmax(rows)');
    int(cols, 'softmax(cols)', 1);
    const xp = this.buf(x, 'softmax(x)', rows * cols);
    if (rows) this.host.raw.softmax(xp, rows, cols);
  }

  silu(x: F32Buffer, n: number): void {
    this.ctx('silu');
    int(n, 'silu(n)');
    const xp = this.buf(x, 'silu(x)', n);
    if (n) this.host.raw.silu(xp, n);
  }

  swiglu(out: F32Buffer, gate: F32Buffer, up: F32Buffer, n: number): void {
    this.ctx('swiglu');
    int(n, 'swiglu(n)');
    const o = this.buf(out, 'swiglu(out)', n);
    const g = this.buf(gate, 'swiglu(gate)', n);
    const u = this.buf(up, 'swiglu(up)', n);
    if (n) this.host.raw.swiglu(o, g, u, n);
  }

  swigluFused(out: F32Buffer, gu: F32Buffer, rows: number, ff: number): void {
    this.ctx('swigluFused');
    int(rows, 'swigluFused(rows)');
    int(ff, 'swigluFused(ff)', 1);
    const o = this.buf(out, 'swigluFused(out)', rows * ff);
    const g = this.buf(gu, 'swigluFused(gu)', rows * 2 * ff);
    if (rows) this.host.raw.swigluFused(o, g, rows, ff);
  }

  add(out: F32Buffer, a: F32Buffer, b: F32Buffer, n: number): void {
    this.ctx('add');
    int(n, 'add(n)');
    const o = this.buf(out, 'add(out)', n);
    const ap = this.buf(a, 'add(a)', n);
    const bp = this.buf(b, 'add(b)', n);
    if (n) this.host.raw.add(o, ap, bp, n);
  }

  addBias(x: F32Buffer, bias: F32Buffer, rows: number, cols: number): void {
    this.ctx('addBias');
    int(rows, 'addBias(rows)');
    int(cols, 'addBias(cols)', 1);
    const xp = this.buf(x, 'addBias(x)', rows * cols);
    const bp = this.buf(bias, 'addBias(bias)', cols);
    if (rows) this.host.raw.addBias(xp, bp, rows, cols);
  }

  mul(out: F32Buffer, a: F32Buffer, b: F32Buffer, n: number): void {
    this.ctx('mul');
    int(n, 'mul(n)');
    const o = this.buf(out, 'mul(out)', n);
    const ap = this.buf(a, 'mul(a)', n);
    const bp = this.buf(b, 'mul(b)', n);
    if (n) this.host.raw.mul(o, ap, bp, n);
  }

  scale(x: F32Buffer, s: number, n: number): void {
    this.ctx('scale');
    int(n, 'scale(n)');
    finite(s, 'scale(s)');
    const xp = this.buf(x, 'scale(x)', n);
    if (n) this.host.raw.scale(xp, s, n);
  }

  copyRows(
    dst: F32Buffer,
    dstOffset: number,
    dstStride: number,
    src: F32Buffer,
    srcOffset: number,
    srcStride: number,
    rows: number,
    cols: number,
  ): void {
    this.ctx('copyRows');
    int(dstOffset, 'copyRows(dstOffset)');
    int(dstStride, 'copyRows(dstStride)');
    int(srcOffset, 'copyRows(srcOffset)');
    int(srcStride, 'copyRows(srcStride)');
    int(rows, 'copyRows(rows)');
    int(cols, 'copyRows(cols)');
    const span = (stride: number) => (rows === 0 || cols === 0 ? 0 : (rows - 1) * stride + cols);
    const d = this.buf(dst, 'copyRows(dst)', span(dstStride), dstOffset);
    const s = this.buf(src, 'copyRows(src)', span(srcStride), srcOffset);
    if (rows && cols) this.host.raw.copyRows(d, dstStride, s, srcStride, rows, cols);
  }

  kvBatch(segments: readonly KVSegment[], options: KVBatchOptions = {}): KVBatch {
    this.ctx('kvBatch');
    if (!Array.isArray(segments) || segments.length === 0)
      throw new KernelError('INVALID_ARGUMENT', 'kvBatch: expected a non-empty array of segments');
    let row = 0;
    let first: KVCacheImpl | undefined;
    const list: KVSegment[] = [];
    for (let i = 0; i < segments.length; i++) {
      const s = segments[i] as KVSegment;
      const what = `kvBatch(segments[${i}])`;
      const c = s?.cache;
      if (!(c instanceof KVCacheImpl) || c.owner !== this)
        throw new KernelError(
          'FOREIGN_OBJECT',
          `${what}.cache: expected a KVCache made by this Kernels instance`,
        );
      c.ptr(what);
      if (int(s.row, `${what}.row`) !== row)
        throw new KernelError(
          'INVALID_ARGUMENT',
          `${what}.row = ${s.row}: segments must cover the rows in order (expected ${row})`,
        );
      const n = int(s.nTokens, `${what}.nTokens`, 1);
      const pos = int(s.pos, `${what}.pos`);
      if (pos + n > c.contextSize)
        throw new KernelError(
          'OUT_OF_BOUNDS',
          `${what}: positions ${pos}..${pos + n - 1} exceed the cache's context size ${c.contextSize}`,
        );
      if (first && (c.layers !== first.layers || c.kvHeads !== first.kvHeads || c.headDim !== first.headDim))
        throw new KernelError(
          'INVALID_ARGUMENT',
          `${what}.cache: its layers/kvHeads/headDim differ from segment 0's`,
        );
      if (list.some((o) => o.cache === c))
        throw new KernelError('INVALID_ARGUMENT', `${what}.cache: a cache may appear in one segment only`);
      first ??= c;
      list.push({ cache: c, row, nTokens: n, pos });
      row += n;
    }
    const map = options.layerMap;
    if (map !== undefined) {
      if (!(map instanceof Int32Array))
        throw new KernelError('INVALID_ARGUMENT', 'kvBatch(layerMap): expected an Int32Array');
      for (let i = 0; i < map.length; i++) {
        const l = map[i] as number;
        if (l < -1 || l >= (first as KVCacheImpl).layers)
          throw new KernelError(
            'INVALID_ARGUMENT',
            `kvBatch(layerMap[${i}]) = ${l}: expected -1 or a cache layer below ${(first as KVCacheImpl).layers}`,
          );
      }
    }
    return new KVBatchImpl(this, list, row, map);
  }

  // ---- attention ----
  attention(out: F32Buffer, q: F32Buffer, cache: KVCache | KVBatch, layer: number, p: AttentionParams): void {
    if (cache instanceof KVBatchImpl) {
      this.ctx('attention');
      if (cache.owner !== this)
        throw new KernelError(
          'FOREIGN_OBJECT',
          'attention(cache): expected a KVBatch made by this Kernels instance',
        );
      if (p?.nTokens !== undefined || p?.pos !== undefined)
        throw new KernelError(
          'INVALID_ARGUMENT',
          'attention: with a KVBatch, leave nTokens and pos out (each segment has its own)',
        );
      const width = int(p.nHeads, 'attention(nHeads)', 1) * int(p.headDim, 'attention(headDim)', 1);
      this.buf(out, 'attention(out)', cache.nTokens * width);
      this.buf(q, 'attention(q)', cache.nTokens * width);
      const cl = cache.cacheLayer(layer);
      const raw = this.host.raw;
      if (cache.segments.length < 2 || typeof raw.attentionSegments !== 'function') {
        for (const s of cache.segments) {
          const a = this.attentionArgs(
            out,
            q,
            s.cache,
            cl,
            { ...p, nTokens: s.nTokens, pos: s.pos },
            s.row * width,
          );
          if (a) this.attentionCall(a);
        }
        return;
      }
      // One call for every sequence: C spreads all their rows' heads over the thread pool at once.
      // Segment 0 validates the parameters (kvBatch() checked that every cache has its shape and
      // holds its segment's positions); the others' V types are checked against the path.
      const s0 = cache.segments[0] as KVSegment;
      const first = this.attentionArgs(out, q, s0.cache, cl, { ...p, nTokens: s0.nTokens, pos: s0.pos }, 0);
      if (!first) return;
      if (p.flash === false)
        for (const s of cache.segments)
          this.attentionArgs(out, q, s.cache, cl, { ...p, nTokens: s.nTokens, pos: s.pos }, s.row * width);
      const desc = cache.descriptor('attention(cache)');
      const pin = this.host.pin(desc, false);
      try {
        const rc = raw.attentionSegments(
          first.ctx,
          this.buf(out, 'attention(out)', cache.nTokens * width),
          this.buf(q, 'attention(q)', cache.nTokens * width),
          cache.segments.length,
          pin.ptr,
          cl,
          first.nHeads,
          first.nKvHeads,
          first.headDim,
          first.window,
          first.scale,
          first.flash,
          first.softcap,
        );
        if (rc !== 0)
          throw new KernelError(rc === -2 ? 'OUT_OF_MEMORY' : 'INTERNAL', `attention: C returned ${rc}`);
      } finally {
        pin.release();
      }
      return;
    }
    const a = this.attentionArgs(out, q, cache as KVCache, layer, p, 0);
    if (a) this.attentionCall(a);
  }

  kvShift(cache: KVCache, layer: number, p: KVShiftParams): void {
    const ctx = this.ctx('kvShift');
    if (!(cache instanceof KVCacheImpl) || cache.owner !== this)
      throw new KernelError(
        'FOREIGN_OBJECT',
        'kvShift(cache): expected a KVCache made by this Kernels instance',
      );
    const data = cache.ptr('kvShift(cache)');
    const raw = this.host.raw;
    if (typeof raw.kvShiftRope !== 'function')
      throw new KernelError(
        'NOT_SUPPORTED',
        `kvShift: this ${this.backend} kernel module predates kvShift; rebuild or reinstall @quant/kernels`,
      );
    int(layer, 'kvShift(layer)', 0, cache.layers - 1);
    const from = int(p?.from, 'kvShift(from)');
    const to = int(p.to, 'kvShift(to)');
    const count = int(p.count, 'kvShift(count)');
    if (from + count > cache.contextSize || to + count > cache.contextSize)
      throw new KernelError(
        'OUT_OF_BOUNDS',
        `kvShift: moving ${count} positions from ${from} to ${to} leaves the context (size ${cache.contextSize})`,
      );
    const r = p.rope;
    let nRot = 0;
    let neox = 0;
    let base = 0;
    let freqScale = 1;
    let factors: { ptr: number; release(): void } | undefined;
    if (r !== undefined) {
      nRot = int(r.nRot ?? cache.headDim, 'kvShift(rope.nRot)', 2, cache.headDim);
      if (nRot % 2) throw new KernelError('INVALID_ARGUMENT', `kvShift: rope.nRot = ${nRot} must be even`);
      if (r.mode !== 'normal' && r.mode !== 'neox')
        throw new KernelError(
          'INVALID_ARGUMENT',
          `kvShift: rope.mode must be 'normal' or 'neox', got ${String(r.mode)}`,
        );
      neox = r.mode === 'neox' ? 1 : 0;
      base = finite(r.freqBase, 'kvShift(rope.freqBase)');
      if (base <= 0) throw new KernelError('INVALID_ARGUMENT', 'kvShift: rope.freqBase must be > 0');
      freqScale = finite(r.freqScale ?? 1, 'kvShift(rope.freqScale)');
      if (r.freqFactors !== undefined) {
        if (!(r.freqFactors instanceof Float32Array))
          throw new KernelError('INVALID_ARGUMENT', 'kvShift: rope.freqFactors must be a Float32Array');
        fits(r.freqFactors.length, 0, nRot / 2, 'kvShift(rope.freqFactors)');
      }
    }
    if (count === 0 || (from === to && nRot === 0)) return;
    if (r?.freqFactors !== undefined) factors = this.host.pin(r.freqFactors.subarray(0, nRot / 2), false);
    try {
      const rc = raw.kvShiftRope(
        ctx,
        data,
        cache.layers,
        cache.contextSize,
        cache.kvDim,
        cache.kCode,
        cache.vCode,
        layer,
        from,
        to,
        count,
        cache.headDim,
        nRot,
        neox,
        base,
        freqScale,
        factors?.ptr ?? 0,
      );
      if (rc !== 0) throw statusError('kvShift', rc);
    } finally {
      factors?.release();
    }
  }

  /** Validates one sequence's attention (rows from `offset` of out and q): the raw op's arguments, or undefined for no rows. */
  private attentionArgs(
    out: F32Buffer,
    q: F32Buffer,
    cache: KVCache,
    layer: number,
    p: AttentionParams,
    offset: number,
  ): AttentionArgs | undefined {
    const ctx = this.ctx('attention');
    if (!(cache instanceof KVCacheImpl) || cache.owner !== this) {
      throw new KernelError(
        'FOREIGN_OBJECT',
        'attention(cache): expected a KVCache made by this Kernels instance',
      );
    }
    const data = cache.ptr('attention(cache)');
    int(layer, 'attention(layer)', 0, cache.layers - 1);
    const nTokens = int(p?.nTokens, 'attention(nTokens)');
    const pos = int(p.pos, 'attention(pos)');
    const nHeads = int(p.nHeads, 'attention(nHeads)', 1);
    const nKvHeads = int(p.nKvHeads, 'attention(nKvHeads)', 1);
    const headDim = int(p.headDim, 'attention(headDim)', 1);
    if (nHeads % nKvHeads)
      throw new KernelError(
        'INVALID_ARGUMENT',
        `attention: nHeads (${nHeads}) must be a multiple of nKvHeads (${nKvHeads})`,
      );
    if (nKvHeads !== cache.kvHeads || headDim !== cache.headDim) {
      throw new KernelError(
        'INVALID_ARGUMENT',
        `attention: nKvHeads/headDim (${nKvHeads}/${headDim}) differ from the cache's (${cache.kvHeads}/${cache.headDim})`,
      );
    }
    if (pos + nTokens > cache.contextSize) {
      throw new KernelError(
        'OUT_OF_BOUNDS',
        `attention: positions up to ${pos + nTokens - 1} exceed the cache's context size ${cache.contextSize}`,
      );
    }
    if (p.flash === false && kvTypeInfo(cache.types.v).quantized)
      throw new KernelError(
        'UNSUPPORTED_TYPE',
        `attention: a ${cache.types.v} V cache can only be read by the flash-attention path (as in llama.cpp); ` +
          `use flash: true, or a V cache type the standard path reads: ${STANDARD_PATH_V_TYPES.join(', ')}`,
      );
    const window = int(p.window ?? 0, 'attention(window)');
    const scale = finite(p.scale ?? 1 / Math.sqrt(headDim), 'attention(scale)');
    const softcap = finite(p.softcap ?? 0, 'attention(softcap)');
    if (softcap < 0 || (softcap > 0 && Math.fround(softcap) === 0))
      throw new KernelError(
        'INVALID_ARGUMENT',
        `attention(softcap): ${softcap} must be a positive float32 (the logit cap), or 0 / undefined for none`,
      );
    if (p.flash !== undefined && typeof p.flash !== 'boolean') {
      throw new KernelError(
        'INVALID_ARGUMENT',
        `attention(flash): expected a boolean or undefined, got ${typeof p.flash}`,
      );
    }
    const n = nTokens * nHeads * headDim;
    const o = this.buf(out, 'attention(out)', n, offset);
    const qp = this.buf(q, 'attention(q)', n, offset);
    if (!nTokens) return undefined;
    return {
      ctx,
      out: o,
      q: qp,
      data,
      layers: cache.layers,
      ctxSize: cache.contextSize,
      kvDim: cache.kvDim,
      kCode: cache.kCode,
      vCode: cache.vCode,
      layer,
      nTokens,
      pos,
      row: offset / (nHeads * headDim),
      nHeads,
      nKvHeads,
      headDim,
      window,
      scale,
      flash: p.flash === false ? 0 : 1,
      softcap,
    };
  }

  private attentionCall(a: AttentionArgs): void {
    const rc = this.host.raw.attention(
      a.ctx,
      a.out,
      a.q,
      a.data,
      a.layers,
      a.ctxSize,
      a.kvDim,
      a.kCode,
      a.vCode,
      a.layer,
      a.nTokens,
      a.pos,
      a.nHeads,
      a.nKvHeads,
      a.headDim,
      a.window,
      a.scale,
      a.flash,
      a.softcap,
    );
    if (rc !== 0)
      throw new KernelError(rc === -2 ? 'OUT_OF_MEMORY' : 'INTERNAL', `attention: C returned ${rc}`);
  }

  argmax(x: F32Buffer, n: number, offset = 0): number {
    this.ctx('argmax');
    this.refuseDuringRun('argmax');
    int(n, 'argmax(n)', 1);
    int(offset, 'argmax(offset)');
    const xp = this.buf(x, 'argmax(x)', n, offset);
    return this.host.raw.argmax(xp, n);
  }

  /**
   * Not part of the Kernels contract (used by bench/): measures read bandwidth in GB/s over a
   * `bytes`-byte buffer (make it larger than the last-level cache), best of `reps`.
   */
  measureReadBandwidth(bytes: number, reps = 5): number {
    const ctx = this.ctx('measureReadBandwidth');
    this.refuseDuringRun('measureReadBandwidth');
    int(bytes, 'measureReadBandwidth(bytes)', 8);
    const block = this.host.alloc(bytes);
    try {
      let best = Number.POSITIVE_INFINITY;
      for (let r = 0; r < reps; r++) {
        const t0 = performance.now();
        this.host.raw.memRead(ctx, block, bytes);
        best = Math.min(best, performance.now() - t0);
      }
      return bytes / (best / 1000) / 1e9;
    } finally {
      this.host.free(block);
    }
  }

  dispose(): void {
    if (!this.#ctx) return;
    for (const o of [...this.#live]) o.dispose();
    this.host.raw.destroyContext(this.#ctx);
    this.#ctx = 0;
    this.#cmds.release();
  }
}
