/**
 * The Node-API surface of the C library, identical for the native addon and the wasm module.
 * Pointers are numbers: addresses in native memory, offsets into wasm linear memory.
 * These functions do no bounds checking; only the facade (kernels.ts) may call them.
 */
export interface RawBinding {
  createContext(threads: number, forceScalar: number): number;
  destroyContext(ctx: number): void;
  setThreads(ctx: number, n: number): number;
  threads(ctx: number): number;
  simd(ctx: number): string;
  typeInfo(type: number): [number, number];
  alloc(bytes: number, zero: number): number;
  free(ptr: number): void;
  /** Native only. */
  addressOf(v: ArrayBufferView | ArrayBuffer): number;
  /** Native only: [dataPtr, basePtr, mappedLength] or a negative errno. */
  mapFile(path: string, offset: number, bytes: number): [number, number, number] | number;
  unmap(base: number, len: number): void;
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
  rope(
    x: number,
    nTokens: number,
    pos: number,
    nHeads: number,
    headDim: number,
    nRot: number,
    neox: number,
    freqBase: number,
    freqScale: number,
    attnFactor: number,
    factors: number,
  ): void;
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
  /** Bench only: reads `bytes` at ptr with the pool's threads (memory bandwidth probe). */
  memRead(ctx: number, ptr: number, bytes: number): number;
  kvStore(
    data: number,
    layers: number,
    ctx: number,
    kvDim: number,
    isF16: number,
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
    isF16: number,
    from: number,
    to: number,
    count: number,
  ): void;
  attention(
    ctx: number,
    out: number,
    q: number,
    data: number,
    layers: number,
    ctxSize: number,
    kvDim: number,
    isF16: number,
    layer: number,
    nTokens: number,
    pos: number,
    nHeads: number,
    nKvHeads: number,
    headDim: number,
    window: number,
    scale: number,
    flash: number,
  ): number;
}

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
  readonly raw: RawBinding;
  readonly canMapFiles: boolean;
  readonly maxMemoryBytes: number;
  /** A zeroed float buffer of `length` elements owned by the backend. */
  floats(length: number): FloatBlock;
  /** Makes `bytes` readable by C. `persistent` = kept for a weight's life (wasm copies once). */
  pin(bytes: ArrayBufferView, persistent: boolean): PinnedBytes;
  /** Output scratch: C writes `bytes` bytes at ptr; `take()` copies them out. */
  output(bytes: number): { ptr: number; take(): Uint8Array; release(): void };
  /** Backend memory not visible to JS (KV caches). */
  alloc(bytes: number): number;
  free(ptr: number): void;
}
