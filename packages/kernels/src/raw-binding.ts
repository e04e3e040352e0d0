/**
 * The Node-API surface of the C library, identical for the native addon and the wasm module.
 * Pointers are numbers: addresses in native memory, offsets into wasm linear memory.
 * These functions do no bounds checking; only the facade (kernels.ts) may call them.
 */
/** rope's and ropeRows' arguments after the rows and positions. */
export type RopeArgs = [
  nHeads: number,
  headDim: number,
  nRot: number,
  neox: number,
  freqBase: number,
  freqScale: number,
  attnFactor: number,
  factors: number,
];

export interface RawBinding {
  createContext(threads: number, forceScalar: number): number;
  destroyContext(ctx: number): void;
  setThreads(ctx: number, n: number): number;
  threads(ctx: number): number;
  simd(ctx: number): string;
  typeInfo(type: number): [number, number];
  /** flags: 1 = zeroed; 2 = (native) about to be written in full: map its pages now */
  alloc(bytes: number, flags: number): number;
  free(ptr: number): void;
  /** Native only. */
  addressOf(v: ArrayBufferView | ArrayBuffer): number;
  /** Native only: [dataPtr, basePtr, mappedLength, fileId] or a negative errno. */
  mapFile(path: string, offset: number, bytes: number): [number, number, number, number] | number;
  unmap(base: number, len: number): void;
  /** SIGBUS faults absorbed inside file mappings so far, process-wide (csrc/mmap.c). */
  mapFaults(): number;
  /** 0, or bits: 1 faulted (read past a truncated end), 2 size changed, 4 mtime changed, 8 not mapped; or -errno. */
  mapCheck(fileId: number): number;
  dequantize(type: number, src: number, dst: number, n: number): number;
  quantize(type: number, src: number, dst: number, rows: number, cols: number, refine: number): number;
  matmul(
    ctx: number,
    out: number,
    w: number,
    type: number,
    rows: number,
    cols: number,
    x: number,
    nTokens: number,
  ): number;
  getRows(w: number, type: number, rows: number, cols: number, ids: number, n: number, out: number): number;
  rmsNorm(out: number, x: number, w: number, rows: number, cols: number, eps: number): void;
  rope(x: number, nTokens: number, pos: number, ...rest: RopeArgs): void;
  /** w and b: 0 = none. */
  layerNorm(out: number, x: number, w: number, b: number, rows: number, cols: number, eps: number): void;
  gelu(out: number, x: number, n: number): void;
  geluErf(out: number, x: number, n: number): void;
  softcap(out: number, x: number, cap: number, n: number): void;
  softmax(x: number, rows: number, cols: number): void;
  silu(x: number, n: number): void;
  swiglu(out: number, gate: number, up: number, n: number): void;
  swigluFused(out: number, gu: number, rows: number, ff: number): void;
  add(out: number, a: number, b: number, n: number): void;
  addBias(x: number, bias: number, rows: number, cols: number): void;
  mul(out: number, a: number, b: number, n: number): void;
  scale(x: number, s: number, n: number): void;
  copyRows(dst: number, dstStride: number, src: number, srcStride: number, rows: number, cols: number): void;
  argmax(x: number, n: number): number;
  /** Sets the context's matmul mode (0 fast, 1 parity); returns it. */
  setMode(ctx: number, mode: number): number;
  /** Layout (0 = keep as is, 1 = 16-row interleaved) a new weight should be repacked into (csrc/plan.h). */
  repackPlan(ctx: number, type: number, rows: number, cols: number): number;
  /** Reorders a weight into `layout` at dst (same byte count); 0 or a failure code. */
  repack(
    ctx: number,
    type: number,
    layout: number,
    src: number,
    dst: number,
    rows: number,
    cols: number,
  ): number;
  /** The matmul plan's ISA (csrc/plan.h QK_ISA_*). */
  planIsa(ctx: number): number;
  /**
   * The C op table (csrc/op-table.c), in order: [name, number of numeric args, flags] per op.
   * Every op of this interface that the table lists is one entry; its index is the op code of a
   * command in `exec`'s command list. Flags: OP_STATUS, OP_VALUE, OP_CTX below.
   */
  opTable(): [string, number, number][];
  /**
   * Native only: runs `count` commands, each [op index, ...args] (1 + nargs doubles), on a libuv
   * worker thread; the array is copied at once. Resolves with undefined, or with
   * [command index, rc] when a status op returned rc != 0 (later commands did not run). Throws
   * synchronously on a malformed list or while the context runs another list.
   */
  exec?(ctx: number, cmds: Float64Array, count: number): Promise<undefined | [number, number]>;
  /** Bench only: reads `bytes` at ptr with the pool's threads (memory bandwidth probe). */
  memRead(ctx: number, ptr: number, bytes: number): number;
  /** memcpy(dst, src, n): KV cache rows in and out. */
  copyBytes(dst: number, src: number, n: number): void;
  /** KV ops: a type code is the ggml type id | Hadamard rotation size << 8. */
  kvStore(
    data: number,
    layers: number,
    ctx: number,
    kvDim: number,
    kCode: number,
    vCode: number,
    layer: number,
    pos: number,
    n: number,
    k: number,
    v: number,
  ): void;
  kvShift(
    data: number,
    layers: number,
    ctx: number,
    kvDim: number,
    kCode: number,
    vCode: number,
    from: number,
    to: number,
    count: number,
  ): void;
  /** One layer's context shift (csrc/kv-shift.c): rows move, keys rotate by to − from (nRot 0: move only). */
  kvShiftRope?(
    ctx: number,
    data: number,
    layers: number,
    ctxSize: number,
    kvDim: number,
    kCode: number,
    vCode: number,
    layer: number,
    from: number,
    to: number,
    count: number,
    headDim: number,
    nRot: number,
    neox: number,
    freqBase: number,
    freqScale: number,
    factors: number,
  ): number;
  attention(
    ctx: number,
    out: number,
    q: number,
    data: number,
    layers: number,
    ctxSize: number,
    kvDim: number,
    kCode: number,
    vCode: number,
    layer: number,
    nTokens: number,
    pos: number,
    nHeads: number,
    nKvHeads: number,
    headDim: number,
    window: number,
    scale: number,
    flash: number,
    softcap: number,
  ): number;
  /**
   * attention for several sequences in one call: `segments` points to nseg × 9 doubles (data,
   * layers, ctxSize, kvDim, kCode, vCode, nTokens, pos, row), each as attention's arguments, row =
   * the segment's first row of out and q. Absent from kernel modules built before it.
   */
  attentionSegments?(
    ctx: number,
    out: number,
    q: number,
    nseg: number,
    segments: number,
    layer: number,
    nHeads: number,
    nKvHeads: number,
    headDim: number,
    window: number,
    scale: number,
    flash: number,
    softcap: number,
  ): number;
  /**
   * rope with row t at position `positions`[t] (an int32 array's address): several sequences' rows
   * in one call. Absent from kernel modules built before it.
   */
  ropeRows?(x: number, nTokens: number, positions: number, ...rest: RopeArgs): void;
  /**
   * kvStore for several sequences in one call, spread over the context's threads (in items of up to
   * 32 rows): `segments` as attentionSegments' (segment s stores its rows of k and v, from row `row`,
   * at positions pos..). 0, or -2 (out of memory). Absent from kernel modules built before it.
   */
  kvStoreSegments?(ctx: number, nseg: number, segments: number, layer: number, k: number, v: number): number;
}

/** Op table flags (csrc/op-table.h). */
export const OP_STATUS = 1;
/** The op returns a value the caller needs at once: it cannot be recorded by kernels.run(). */
export const OP_VALUE = 2;
/** args[0] is the kernel context (the op uses its thread pool). */
export const OP_CTX = 4;

/** A block of backend memory holding floats, with a way to view it from JS. */
export interface FloatBlock {
  readonly ptr: number;
  view(): Float32Array;
  free(): void;
}

/** Bytes made visible to C for the duration of one call (or of a weight's life). */
export interface PinnedBytes {
  readonly ptr: number;
  release(): void;
}

/** How a backend provides memory to the shared facade. */
export interface Host {
  readonly kind: 'native' | 'wasm';
  /** wasm: the threaded module (its C thread pool runs on workers), so setThreads() applies. */
  readonly threaded?: boolean;
  readonly raw: RawBinding;
  readonly canMapFiles: boolean;
  readonly maxMemoryBytes: number;
  /** A zeroed float buffer of `length` elements owned by the backend. */
  floats(length: number): FloatBlock;
  /** Makes `bytes` readable by C. `persistent` = kept for a weight's life (wasm copies once). */
  pin(bytes: ArrayBufferView, persistent: boolean): PinnedBytes;
  /** Output scratch: C writes `bytes` bytes at ptr; `take()` copies them out. */
  output(bytes: number): { ptr: number; take(): Uint8Array; release(): void };
  /**
   * Backend memory not visible to JS (KV caches), zeroed unless `zero` is false (a large KV cache
   * is then not touched until it is written, so it takes memory as it fills).
   */
  alloc(bytes: number, zero?: boolean): number;
  free(ptr: number): void;
  /** Throws KernelError('MODEL_FILE_CHANGED') if a file mapped by this host changed (native). */
  checkMappedFiles?(): void;
}
