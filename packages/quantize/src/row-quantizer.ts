/**
 * Turns rows of source data (F32/F16/BF16 bytes) into rows of a target type with @quant/kernels
 * (whose quantizers write llama-quantize's bytes). One implementation runs in this thread;
 * worker-pool.ts spreads the same work over worker threads.
 */
import { type Kernels, loadKernels } from '@quant/kernels';
import { T } from './ggml-types.js';

/** Target types @quant/kernels quantizes. */
export const KERNEL_TARGETS: ReadonlySet<number> = new Set([
  T.F32,
  T.F16,
  T.BF16,
  T.Q8_0,
  T.Q4_0,
  T.Q4_1,
  T.Q5_0,
  T.Q5_1,
  T.Q2_K,
  T.Q3_K,
  T.Q4_K,
  T.Q5_K,
  T.Q6_K,
]);
/** Source types we can read as floats. */
export const SOURCE_TYPES: ReadonlySet<number> = new Set([T.F32, T.F16, T.BF16]);

export function canProduce(type: number): boolean {
  return KERNEL_TARGETS.has(type);
}

export interface RowQuantizer {
  /** Worker threads in use (1 = this thread). */
  readonly threads: number;
  readonly mode: 'worker_threads' | 'single-thread';
  /** Why workers are not used, when mode is single-thread. */
  readonly note?: string;
  /** `rows` rows of `cols` elements of `srcType` bytes → the same rows in `dstType`. */
  convert(srcType: number, dstType: number, src: Uint8Array, rows: number, cols: number): Promise<Uint8Array>;
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

/** Source bytes → float32 (F32 is viewed when aligned, copied otherwise; F16/BF16 via the kernels). */
export function toF32(kernels: Kernels, srcType: number, src: Uint8Array, n: number): Float32Array {
  if (srcType === T.F32) {
    if (src.byteOffset % 4 === 0) return new Float32Array(src.buffer, src.byteOffset, n);
    return new Float32Array(src.slice(0, n * 4).buffer);
  }
  if (srcType === T.F16 || srcType === T.BF16) return kernels.dequantize(srcType, src, n);
  throw new RangeError(`cannot read ggml type ${srcType} as floats`);
}

/** Everything in the calling thread. */
export class InlineRowQuantizer implements RowQuantizer {
  readonly threads = 1;
  readonly mode = 'single-thread' as const;
  readonly note: string | undefined;
  private constructor(
    private readonly kernels: Kernels,
    note?: string,
  ) {
    this.note = note;
  }

  static async create(note?: string): Promise<InlineRowQuantizer> {
    return new InlineRowQuantizer(await loadKernels({ threads: 1 }), note);
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
    return this.kernels.quantize(dstType, f32, rows, cols);
  }

  async close(): Promise<void> {
    this.kernels.dispose();
  }
}
