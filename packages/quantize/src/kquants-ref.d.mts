/** Q4_K (12) / Q5_K (13) exactly as ggml's reference quantizer writes them. */
export function quantizeKRef(type: number, src: Float32Array): Uint8Array;
export const K_REF_TYPES: readonly number[];
/** True when kernels.quantize(type) writes exactly ggml's reference bytes for Q4_K/Q5_K. */
export function kernelsMatchGgml(
  kernels: { quantize(type: number, src: Float32Array, rows: number, cols: number): Uint8Array },
  type: number,
): boolean;
