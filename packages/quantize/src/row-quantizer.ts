/**
 * Turns rows of source data (F32/F16/BF16 bytes) into rows of a target type. One implementation
 * runs in this thread; worker-pool.ts spreads the same work over worker threads.
 */
import { type Kernels, loadKernels } from '@quant/kernels';
import { T } from './ggml-types.js';
import { bf16ToF32Array, f16ToF32Array } from './half.js';
import { K_REF_TYPES, kernelsMatchGgml, quantizeKRef } from './kquants-ref.mjs';
import { LEGACY_TYPES, quantizeLegacy } from './legacy-quants.js';

/** Target types @quant/kernels quantizes (the rest come from legacy-quants.ts). */
export const KERNEL_TARGETS: ReadonlySet<number> = new Set([
  T.F32,
  T.F16,
  T.BF16,
  T.Q8_0,
  T.Q4_0,
  T.Q4_K,
  T.Q5_K,
  T.Q6_K,
]);
/** Source types we can read as floats. */
export const SOURCE_TYPES: ReadonlySet<number> = new Set([T.F32, T.F16, T.BF16]);

export function canProduce(type: number): boolean {
  return KERNEL_TARGETS.has(type) || LEGACY_TYPES.has(type);
}

export interface RowQuantizer {
  /** Worker threads in use (1 = this thread). */
  readonly threads: number;
  readonly mode: 'worker_threads' | 'single-thread';
  /** Why workers are not used, when mode is single-thread. */
  readonly note?: string;
  /** `rows` rows of `cols` elements of `srcType` bytes → the same rows in `dstType`. */
  convert(srcType: number, dstType: number, src: Uint8Array, rows: number, cols: number): Promise<Uint8Array>;
  /** Whether Q4_K / Q5_K come from the native kernels (true) or our exact port of ggml's reference (false). */
  nativeK(): { Q4_K: boolean; Q5_K: boolean };
  close(): Promise<void>;
}

/** Thrown when a row holds NaN or ±Inf (llama-quantize refuses such data as well). */
export class NonFiniteError extends Error {
  constructor(readonly index: number) {
    super(`non-finite value at element ${index}`);
  }
}

/** Index of the first NaN/±Inf in `x`, or -1. */
export function firstNonFinite(x: Float32Array): number {
  for (let i = 0; i < x.length; i++) {
    const v = x[i] as number;
    if (v - v !== 0) return i;
  }
  return -1;
}

/** Source bytes → float32 (F32 is viewed when aligned, copied otherwise). */
export function toF32(
  kernels: Kernels | undefined,
  srcType: number,
  src: Uint8Array,
  n: number,
): Float32Array {
  if (srcType === T.F32) {
    if (src.byteOffset % 4 === 0) return new Float32Array(src.buffer, src.byteOffset, n);
    return new Float32Array(src.slice(0, n * 4).buffer);
  }
  if (kernels && (srcType === T.F16 || srcType === T.BF16)) return kernels.dequantize(srcType, src, n);
  if (srcType === T.F16) return f16ToF32Array(src, n);
  if (srcType === T.BF16) return bf16ToF32Array(src, n);
  throw new RangeError(`cannot read ggml type ${srcType} as floats`);
}

/**
 * Which K-types the kernels write exactly as ggml does (probed once per kernels instance); the
 * others are quantized by our reference port so the output matches llama-quantize's bytes.
 */
const exactK = new WeakMap<Kernels, Set<number>>();
function kernelsExact(kernels: Kernels, type: number): boolean {
  let s = exactK.get(kernels);
  if (!s) {
    s = new Set(K_REF_TYPES.filter((t) => kernelsMatchGgml(kernels, t)));
    exactK.set(kernels, s);
  }
  return s.has(type);
}

/** Float rows → target bytes: kernels for the main types, our own code for Q4_1/Q5_0/Q5_1 (and Q4_K/Q5_K when needed). */
export function fromF32(
  kernels: Kernels,
  dstType: number,
  f32: Float32Array,
  rows: number,
  cols: number,
  requireExactK = true,
): Uint8Array {
  if (LEGACY_TYPES.has(dstType)) return quantizeLegacy(dstType, f32.subarray(0, rows * cols));
  if (requireExactK && K_REF_TYPES.includes(dstType) && !kernelsExact(kernels, dstType))
    return quantizeKRef(dstType, f32.subarray(0, rows * cols));
  return kernels.quantize(dstType, f32, rows, cols);
}

/** Whether the native K-quantizers are in use for Q4_K and Q5_K (false = our exact port). */
export function nativeKQuants(kernels: Kernels): { Q4_K: boolean; Q5_K: boolean } {
  return { Q4_K: kernelsExact(kernels, T.Q4_K), Q5_K: kernelsExact(kernels, T.Q5_K) };
}

/** Everything in the calling thread. */
export class InlineRowQuantizer implements RowQuantizer {
  readonly threads = 1;
  readonly mode = 'single-thread' as const;
  readonly note: string | undefined;
  private constructor(
    private readonly kernels: Kernels,
    private readonly exactK: boolean,
    note?: string,
  ) {
    this.note = note;
  }

  /** `exactK` false: use the kernels' Q4_K/Q5_K even where they differ from ggml's bytes. */
  static async create(note?: string, exactK = true): Promise<InlineRowQuantizer> {
    return new InlineRowQuantizer(await loadKernels({ threads: 1 }), exactK, note);
  }

  async convert(
    srcType: number,
    dstType: number,
    src: Uint8Array,
    rows: number,
    cols: number,
  ): Promise<Uint8Array> {
    const f32 = toF32(this.kernels, srcType, src, rows * cols);
    const bad = firstNonFinite(f32);
    if (bad >= 0) throw new NonFiniteError(bad);
    return fromF32(this.kernels, dstType, f32, rows, cols, this.exactK);
  }

  nativeK(): { Q4_K: boolean; Q5_K: boolean } {
    return this.exactK ? nativeKQuants(this.kernels) : { Q4_K: true, Q5_K: true };
  }

  async close(): Promise<void> {
    this.kernels.dispose();
  }
}
