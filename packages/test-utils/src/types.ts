/** ggml type ids of the weight types synthetic models are written in. */
export type SyntheticWeightType = 'F32' | 'F16' | 'Q8_0' | 'Q4_0' | 'Q4_K' | 'Q5_K' | 'Q6_K';
export const TYPE_IDS: Record<SyntheticWeightType, number> = {
  F32: 0,
  F16: 1,
  Q4_0: 2,
  Q8_0: 8,
  Q4_K: 12,
  Q5_K: 13,
  Q6_K: 14,
};

/** Quantizes `rows × cols` floats to ggml `type` (e.g. `kernels.quantize` of @quant/kernels). */
export type Quantizer = (type: number, src: Float32Array, rows: number, cols: number) => Uint8Array;

/** A tensor as `writeGGUF` takes it. */
export interface WrittenTensor {
  name: string;
  type: number;
  shape: number[];
  data: Uint8Array;
}
