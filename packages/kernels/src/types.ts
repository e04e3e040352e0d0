/**
 * The public contract of @quant/kernels: one typed surface over the native addon and the
 * WebAssembly module. The runtime and the architecture plugins program against this file only.
 *
 * Conventions
 * - Sizes are element counts unless a name says `bytes`.
 * - Matrices are row-major. A weight matrix has `rows` output rows of `cols` inputs each (ggml's
 *   ne[0] = cols, ne[1] = rows); a batch of activations is `nTokens` rows of `width` floats.
 * - Buffers are owned by the backend (wasm: inside linear memory; native: off-heap memory the
 *   addon owns). Ops read and write them in place; no op copies a weight.
 * - Every op validates its arguments in TypeScript before calling C and throws `KernelError`.
 * - All ops are synchronous. Native ops use the addon's persistent thread pool internally.
 *   `run(record)` executes a whole sequence of ops (e.g. one forward pass) off the JS thread.
 */

/** ggml type ids (the same numbers as in GGUF files; see @quant/gguf's type table). */
export type GGMLTypeId = number;

export type BackendName = 'native' | 'wasm';
export type SimdLevel = 'avx2' | 'neon' | 'simd128' | 'scalar';
/** See LoadKernelsOptions.mode. */
export type KernelMode = 'fast' | 'parity';

export interface LoadKernelsOptions {
  /** 'auto' (default) prefers the native addon and falls back to wasm, reporting why in `fallbackReason`. */
  backend?: 'auto' | BackendName;
  /**
   * Threads for matmul and attention (default: physical cores; in browsers `navigator.hardwareConcurrency`
   * when the threaded wasm module can run, else 1). Wasm runs threads only with the threaded module
   * (see `wasmThreads`); the single-threaded module always reports 1.
   */
  threads?: number;
  /**
   * Wasm backend: load wasm/quant-kernels-mt.wasm (shared memory + atomics, its thread pool on
   * worker threads) instead of wasm/quant-kernels.wasm. Default: when more than one thread is asked
   * for and SharedArrayBuffer is usable — always in Node, in browsers only on cross-origin isolated
   * pages (`crossOriginIsolated`). `true` when threads cannot run throws BACKEND_UNAVAILABLE. With
   * `wasmBinary`/`wasmUrl` the given module's kind decides.
   */
  wasmThreads?: boolean;
  /** Force the scalar C paths (also: env QUANT_KERNELS_SIMD=scalar). For tests and comparisons. */
  forceScalar?: boolean;
  /**
   * Matmul mode (native; env QUANT_KERNELS_MODE). 'fast' (default): weights whose type has a faster
   * layout on this CPU (AVX-512 VNNI: Q8_0, Q4_K, Q5_K, Q6_K with rows % 16 == 0) are repacked once when handed
   * over and multiplied by those kernels, within the activation-quantization bound of llama.cpp.
   * 'parity': no repacking; llama.cpp's AVX2 summation orders, bit-exact with the tests' references.
   */
  mode?: KernelMode;
  /** Wasm backend: the module's bytes, if the app loads them itself (e.g. in a browser). */
  wasmBinary?: ArrayBuffer | Uint8Array;
  /**
   * Wasm backend: where to fetch the module (browsers). Default: the package's wasm/quant-kernels.wasm
   * (or quant-kernels-mt.wasm, see `wasmThreads`).
   */
  wasmUrl?: string | URL;
}

/** A float32 activation buffer owned by the backend. */
export interface F32Buffer {
  readonly length: number;
  /**
   * A live view of the buffer. In wasm the view is invalidated when linear memory grows, so take
   * a fresh view after any allocation; never keep it across calls that may allocate.
   */
  view(): Float32Array;
  /** Copies `src` into the buffer at element offset `offset` (default 0). */
  write(src: ArrayLike<number>, offset?: number): void;
  /** Copies `length` elements starting at `offset` out into a new Float32Array. */
  read(offset?: number, length?: number): Float32Array;
  dispose(): void;
  readonly disposed: boolean;
}

/** An immutable weight matrix in any supported ggml type, handed to the backend once. */
export interface Weight {
  readonly type: GGMLTypeId;
  readonly rows: number;
  readonly cols: number;
  readonly byteLength: number;
  dispose(): void;
  readonly disposed: boolean;
}

export interface QuantizeOptions {
  /** Q4_K/Q5_K: also search the 6-bit scale codes (lower error, no longer ggml's exact bytes). */
  refine?: boolean;
}

export type RopeMode = 'normal' | 'neox';

export interface RopeParams {
  /** Tokens in the batch. */
  nTokens: number;
  /**
   * Positions: a number p (token t is at p + t), or one position per token (an Int32Array of
   * nTokens, e.g. `KVBatch.positions` when a batch holds several sequences).
   */
  pos: number | Int32Array;
  nHeads: number;
  headDim: number;
  /** Leading dimensions of each head that are rotated (<= headDim). Default headDim. */
  nRot?: number;
  /** 'normal' = adjacent pairs (2i, 2i+1), llama.cpp's default; 'neox' = pairs (i, i + nRot/2). */
  mode: RopeMode;
  freqBase: number;
  /** Linear position scaling: theta uses pos * freqScale. Default 1. */
  freqScale?: number;
  /** Per-pair frequency divisors (LongRoPE rope factors), nRot/2 values. */
  freqFactors?: Float32Array;
  /** Multiplies cos and sin (llama.cpp's attn_factor / mscale). Default 1. */
  attnFactor?: number;
}

/**
 * How the cached keys of one layer were rotated when they were stored (the layer's `RopeParams`
 * without positions, heads and attention factor), so that `kernels.kvShift` can rotate them on.
 */
export interface KVShiftRope {
  mode: RopeMode;
  /** Leading dimensions of each head that were rotated (<= the cache's headDim). Default headDim. */
  nRot?: number;
  freqBase: number;
  /** Default 1. */
  freqScale?: number;
  /** Per-pair frequency divisors (LongRoPE factors, the table the keys were stored with), nRot/2 values. */
  freqFactors?: Float32Array;
}

/** A context shift of one cache layer (`kernels.kvShift`). */
export interface KVShiftParams {
  /** First position that moves. */
  from: number;
  /** Where it goes. */
  to: number;
  /** Positions that move. */
  count: number;
  /** The layer's RoPE: the moved keys are rotated by `to − from` positions. Absent: they only move. */
  rope?: KVShiftRope;
}

export interface AttentionParams {
  /**
   * Query batch: nTokens rows of nHeads*headDim floats. Token t has position `pos + t`. Both are
   * required with a `KVCache` and must be left out with a `KVBatch` (whose segments say them).
   */
  nTokens?: number;
  pos?: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  /** Softmax scale, default 1/sqrt(headDim). */
  scale?: number;
  /** Sliding window: a query at position p sees keys at positions > p - window. 0 or undefined = none. */
  window?: number;
  /**
   * Attention logit soft-capping (gemma2's `attn_logit_softcapping`): scores become cap·tanh(·/cap)
   * before the softmax. 0 or undefined = none. Applied where llama.cpp applies it: the flash paths
   * score cap·tanh(q·k · scale/cap); the standard path (`flash: false`) scores scale·cap·tanh(q·k/cap).
   * The two agree when scale = 1 (gemma2 scales the query instead and passes scale 1).
   */
  softcap?: number;
  /**
   * Which of llama.cpp's two CPU attention paths to reproduce over an f16 KV cache (default true).
   * - true: flash attention (llama.cpp's CPU default, `-fa on`/auto; node-llama-cpp's default):
   *   query rounded to f16, online softmax, V accumulated in f16.
   * - false: the standard path (`llama-cli -fa off`): scores = K·f16(Q) accumulated in f32, scale,
   *   causal/window mask, softmax in f32 (sum in double), probabilities rounded to f16, then
   *   out = Vᵀ·P accumulated in f32.
   * The two differ by rounding only (~1e-3 relative), which can flip near-tied logits on quantized
   * models. Over an f32 cache nothing is rounded, so it only picks where `softcap` applies. Every
   * other K/V type pair follows llama.cpp's flash path (the query converted to K's vec_dot type, V
   * read row by row); a block-quantized V cannot take the standard path (llama.cpp needs flash
   * attention for it), so `flash: false` with such a V throws KernelError('UNSUPPORTED_TYPE').
   */
  flash?: boolean;
}

/**
 * KV cache element types, as llama.cpp spells `--cache-type-k/-v`, plus quant's own `iq4_nlr`
 * (iq4_nl blocks, 4.5 bits/value, of heads rotated by a randomized Hadamard transform over the whole
 * head, quantized with a scale search; a K cache also smooths outlier channels: see the README's
 * "KV cache types").
 */
export type KVCacheType =
  | 'f32'
  | 'f16'
  | 'bf16'
  | 'q8_0'
  | 'q4_0'
  | 'q4_1'
  | 'q5_0'
  | 'q5_1'
  | 'iq4_nl'
  | 'iq4_nlr';

/** Separate K and V cache types. */
export interface KVCacheTypes {
  k: KVCacheType;
  v: KVCacheType;
}

/**
 * Walsh-Hadamard rotation of a quantized cache's heads before quantization (undone on the query
 * side for K and on the output for V, so attention computes the same function):
 * - 'llama' (default): exactly when llama.cpp rotates (quantized type, head size a multiple of 64;
 *   K in chunks of the largest power of two dividing the head size, V in chunks of 64), so the
 *   cache holds what llama.cpp's holds;
 * - 'always': every quantized type, in chunks of the largest power of two dividing the head size
 *   (at least 32: head size 96 is rotated in 32-chunks, which llama.cpp leaves unrotated);
 * - 'none': never.
 * quant's own `iq4_nlr` always carries its rotation (the whole head, randomized), whatever this says.
 */
export type KVRotation = 'llama' | 'always' | 'none';

export interface KVCacheOptions {
  layers: number;
  contextSize: number;
  kvHeads: number;
  headDim: number;
  /** One type for K and V, or `{ k, v }`. Block types (q8_0 … iq4_nl) need headDim % 32 == 0. */
  type: KVCacheType | KVCacheTypes;
  /** See KVRotation (default 'llama'). */
  rotation?: KVRotation;
}

/**
 * Per-session KV storage for all layers: layers × ctx × kvHeads × headDim keys and values, each in
 * its own type. Block-quantized rows are quantized on `store` (as llama.cpp's set_rows does) and
 * read block by block by `attention`.
 */
export interface KVCache {
  /** The K and V types. */
  readonly types: Readonly<KVCacheTypes>;
  /** Hadamard rotation chunk sizes of K and V (0 = not rotated). */
  readonly rotation: { readonly k: number; readonly v: number };
  readonly layers: number;
  readonly contextSize: number;
  readonly kvHeads: number;
  readonly headDim: number;
  /** Bytes the cache holds (K and V of every layer and position, and an iq4_nlr K's smoothing scales). */
  readonly byteLength: number;
  /** Stores nTokens rows of keys and values (kvHeads*headDim floats each) at positions pos.. */
  store(layer: number, pos: number, nTokens: number, k: F32Buffer, v: F32Buffer): void;
  /** Moves positions [from, from+count) to [to, to+count) in every layer (context shifting). */
  shift(from: number, to: number, count: number): void;
  /**
   * A copy of the stored bytes of the K or V rows of positions [0, nTokens) of `layer`, in the
   * cache's own type (e.g. to save a session). Refused while a run() is active.
   */
  readRows(layer: number, part: 'k' | 'v', nTokens: number): Uint8Array;
  /** Writes bytes that `readRows` returned for a cache of the same shape and types back. */
  writeRows(layer: number, part: 'k' | 'v', nTokens: number, bytes: Uint8Array): void;
  /**
   * The cache's state besides its rows (an iq4_nlr K cache: each layer's channel smoothing scales,
   * layers × kvHeads × headDim f32, set by the first store at position 0), or an empty array; save
   * it with the rows, and give it back with `writeState` before the rows are read again.
   */
  readState(): Uint8Array;
  writeState(bytes: Uint8Array): void;
  dispose(): void;
  readonly disposed: boolean;
}

/**
 * One sequence's rows in a batched forward pass: rows [row, row + nTokens) of the batch are that
 * sequence's tokens at positions pos, pos + 1, …, and read and write `cache`.
 */
export interface KVSegment {
  cache: KVCache;
  row: number;
  nTokens: number;
  pos: number;
}

/**
 * The rows of one forward pass grouped by sequence (continuous batching): matmuls run over all rows
 * at once, while RoPE (`positions`), `store` and `attention` treat each segment with its own cache
 * and positions. Made by `kernels.kvBatch()`; valid until one of its caches is disposed.
 */
export interface KVBatch {
  /** Rows in the batch (the sum of the segments' nTokens). */
  readonly nTokens: number;
  readonly segments: readonly KVSegment[];
  /** Position of every row, for `RopeParams.pos`. */
  readonly positions: Int32Array;
  /** Stores every row's key and value (kvHeads*headDim floats per row) in its segment's cache. */
  store(layer: number, k: F32Buffer, v: F32Buffer): void;
  /** The cache layer that model layer `layer` uses (see `KVBatchOptions.layerMap`). */
  cacheLayer(layer: number): number;
}

export interface KVBatchOptions {
  /**
   * Model layer → cache layer, for models where some layers keep no KV (-1): `store` and
   * `attention` take model layer numbers and use the mapped cache layer. Default: the identity.
   */
  layerMap?: Int32Array;
}

export interface Kernels {
  readonly backend: BackendName;
  readonly simd: SimdLevel;
  /** The matmul mode (LoadKernelsOptions.mode). */
  readonly mode?: KernelMode;
  /** The ISA the matmul plan picks kernels for: 'avx512vnni', 'avx512', 'avx2', 'neon', 'simd128' or 'scalar'. */
  readonly isa?: string;
  readonly threads: number;
  /** Set when `backend: 'auto'` fell back to wasm: why the native addon could not be used. */
  readonly fallbackReason?: string;
  /** Largest total weight bytes this backend can hold (wasm: under 4 GiB). */
  readonly maxMemoryBytes: number;

  setThreads(n: number): void;

  // ---- memory ----
  f32(length: number): F32Buffer;
  /** Hands a weight over once. `data` holds rows*cols elements in ggml's block layout for `type`. */
  weight(type: GGMLTypeId, rows: number, cols: number, data: Uint8Array): Weight;
  /**
   * Maps a weight straight from a file (native only; `canMapFiles`). `offset` is the absolute byte
   * offset of the tensor data in the file.
   */
  readonly canMapFiles: boolean;
  weightFromFile?(path: string, offset: number, type: GGMLTypeId, rows: number, cols: number): Weight;
  /**
   * Throws KernelError('MODEL_FILE_CHANGED') naming the file if a file that `weightFromFile` mapped
   * was truncated, resized or rewritten since it was mapped (one fstat per file; call it between
   * forward passes). matmul/getRows also throw it when they read past a truncated file's end.
   */
  checkMappedFiles?(): void;
  /**
   * A KV cache. Throws KernelError('UNSUPPORTED_TYPE') for a type name it does not know or a head
   * size that is not a multiple of the type's block (the message lists the types that work), and
   * OUT_OF_MEMORY past `maxMemoryBytes`.
   */
  kvCache(opts: KVCacheOptions): KVCache;

  /**
   * Groups the rows of a batch by sequence. Segments must cover rows 0 … n-1 in order, each with
   * contiguous positions inside its cache; all caches need the same layers, KV heads and head size.
   */
  kvBatch(segments: readonly KVSegment[], options?: KVBatchOptions): KVBatch;

  // ---- (de)quantization ----
  /** Dequantizes `n` elements (a multiple of the type's block size) of `type` data. */
  dequantize(type: GGMLTypeId, data: Uint8Array, n: number): Float32Array;
  /**
   * Quantizes `rows` rows of `cols` floats to `type` (Q8_0, Q4_0, Q4_K, Q5_K, Q6_K, F16, BF16, F32).
   * By default the output is byte-identical with ggml's reference quantizers (llama-quantize
   * without an importance matrix); `{ refine: true }` lowers Q4_K/Q5_K error a little further.
   */
  quantize(
    type: GGMLTypeId,
    src: Float32Array,
    rows: number,
    cols: number,
    options?: QuantizeOptions,
  ): Uint8Array;

  // ---- linear algebra ----
  /** out[t, r] = sum_c W[r, c] * x[t, c] for t < nTokens; x rows are w.cols wide, out rows w.rows wide. */
  matmul(out: F32Buffer, w: Weight, x: F32Buffer, nTokens: number): void;
  /** Embedding lookup: out[t, :] = dequantized row ids[t] of w (out rows are w.cols wide). */
  getRows(out: F32Buffer, w: Weight, ids: ArrayLike<number>): void;

  // ---- elementwise and norms (all over `rows` rows of `cols`) ----
  /** out = x / sqrt(mean(x^2) + eps) * weight, row by row; weight has `cols` floats. out may be x. */
  rmsNorm(out: F32Buffer, x: F32Buffer, weight: F32Buffer, rows: number, cols: number, eps: number): void;
  /**
   * LayerNorm row by row, as llama.cpp's build_norm(LLM_NORM): out = (x − mean) / sqrt(var + eps) ·
   * weight + bias; weight and bias have `cols` floats, either may be omitted. out may be x.
   */
  layerNorm(
    out: F32Buffer,
    x: F32Buffer,
    weight: F32Buffer | undefined,
    bias: F32Buffer | undefined,
    rows: number,
    cols: number,
    eps: number,
  ): void;
  /** In place rotary embedding of x (nTokens rows of nHeads*headDim floats). */
  rope(x: F32Buffer, p: RopeParams): void;
  /** Row-wise softmax in place. */
  softmax(x: F32Buffer, rows: number, cols: number): void;
  silu(x: F32Buffer, n: number): void;
  /**
   * GELU, tanh approximation, exactly as ggml-cpu computes it on f32 (ggml_gelu): input and result
   * rounded through f16 (its lookup table), x ≤ −10 → 0, x ≥ 10 → x. out may be x.
   */
  gelu(out: F32Buffer, x: F32Buffer, n: number): void;
  /** GELU with erf (ggml_gelu_erf): out = 0.5·x·(1 + erf(x/√2)) in f32. out may be x. */
  geluErf(out: F32Buffer, x: F32Buffer, n: number): void;
  /**
   * Logit soft-capping (gemma2's `final_logit_softcapping`): out = cap·tanh(x/cap) over n elements,
   * in ggml's f32 steps (x·(1/cap), tanhf, ·cap). cap > 0. out may be x.
   */
  softcap(out: F32Buffer, x: F32Buffer, cap: number, n: number): void;
  /** out[i] = silu(gate[i]) * up[i] for n elements. out may alias gate. */
  swiglu(out: F32Buffer, gate: F32Buffer, up: F32Buffer, n: number): void;
  /** Fused rows [gate | up] of 2*ff floats: out[t, i] = silu(gu[t, i]) * gu[t, ff + i]. */
  swigluFused(out: F32Buffer, gu: F32Buffer, rows: number, ff: number): void;
  /** out = a + b over n elements (out may alias a or b). */
  add(out: F32Buffer, a: F32Buffer, b: F32Buffer, n: number): void;
  /** x[r, :] += bias[:] for `rows` rows of `cols` (bias is `cols` floats). */
  addBias(x: F32Buffer, bias: F32Buffer, rows: number, cols: number): void;
  mul(out: F32Buffer, a: F32Buffer, b: F32Buffer, n: number): void;
  scale(x: F32Buffer, s: number, n: number): void;
  /**
   * Strided copy of `rows` rows of `cols` floats: dst[dstOffset + r*dstStride + c] = src[srcOffset + r*srcStride + c].
   * Used to split fused projections (e.g. phi3's [Q | K | V]).
   */
  copyRows(
    dst: F32Buffer,
    dstOffset: number,
    dstStride: number,
    src: F32Buffer,
    srcOffset: number,
    srcStride: number,
    rows: number,
    cols: number,
  ): void;

  // ---- attention ----
  /**
   * Causal attention of q against positions [0, pos + nTokens) of `layer` in the cache (the
   * current batch's K/V must already be stored). out has the shape of q. Grouped-query: query head
   * h reads KV head floor(h / (nHeads / nKvHeads)). With a `KVBatch`, each segment's rows attend to
   * their own cache at their own positions (leave `p.nTokens`/`p.pos` out); the result equals
   * calling attention once per segment.
   */
  attention(out: F32Buffer, q: F32Buffer, cache: KVCache | KVBatch, layer: number, p: AttentionParams): void;
  /**
   * Context shift of one cache layer, as llama.cpp's K-shift (`llama_memory_seq_add`): moves the K
   * and V rows of positions [from, from+count) to [to, to+count) and, with `p.rope`, rotates the
   * moved keys by δ = to − from positions with that RoPE, so they equal (up to the cache type's
   * rounding) the keys a fresh evaluation at the new positions stores; the attention factor is not
   * applied again. Every cache type: f32 in place; f16/bf16, block types and Hadamard-rotated caches
   * are converted to f32 (the rotation undone), rotated, and converted back as `store` converts.
   * Optional: absent on kernel modules built before it (the runtime then re-evaluates instead).
   */
  kvShift?(cache: KVCache, layer: number, p: KVShiftParams): void;

  /** Index of the largest of n floats starting at offset (first one on ties). */
  argmax(x: F32Buffer, n: number, offset?: number): number;

  // ---- off the JS thread ----
  /**
   * Runs every op that `record` issues as one unit of work, off the JS thread where the backend can:
   * native — the ops are validated in JS as usual while `record` runs, recorded into a command list,
   * and executed by the C library (on its own thread pool) inside Node-API async work; the promise
   * settles on the JS thread when all have run. wasm — the ops run inline while `record` runs, then the
   * promise resolves after one macrotask (so awaiting run() always yields to the event loop).
   * Calls to run() are serialized (a second call waits for the first).
   *
   * Rules (both backends, so code that works on one works on the other):
   * - `record` must issue its ops synchronously (returning a promise rejects the run). Write inputs
   *   before run() and read outputs after it settles: while recording, `F32Buffer.view()/read()/
   *   write()`, `argmax`, `dequantize`, `quantize`, `weight`/`weightFromFile`, `setThreads` and a
   *   nested run() throw KernelError('RECORDING'). `f32()` and `kvCache()` may be called (buffers
   *   made inside `record` are kept alive by the run even if nothing else references them).
   * - An error thrown inside `record` (e.g. a validation error of an op) rejects the run; on native
   *   none of its ops has run. On wasm the ops issued before the error have already run.
   * - A C failure of an op (e.g. matmul's return code) stops the run at that op (later ops do not
   *   run) and rejects with the KernelError the synchronous op would throw, naming the op and its
   *   position in the command list.
   * - Until the promise settles (`busy`): ops, `setThreads`, `argmax`, `dequantize`, `quantize`, and
   *   `view()/read()/write()` of a buffer the run uses throw KernelError('BUSY'); buffers it does not
   *   use stay accessible, and `f32()`, `weight()` and `kvCache()` work.
   * - Disposal is deferred, never refused: disposing a buffer, weight or cache (or the Kernels
   *   instance) while a run is active marks it disposed at once (further use throws DISPOSED) and
   *   releases its memory when the run settles; runs still queued behind it then reject with DISPOSED.
   */
  run(record: () => void): Promise<void>;
  /** True while a run() is executing (from the start of its recording until its promise settles). */
  readonly busy: boolean;

  /** Frees every buffer, weight and cache this instance made, and the thread pool. */
  dispose(): void;
}
