import { T } from './ggml-types.js';

/** The mixes `quantizeModel` can write (every tensor type they choose has a quantizer here). */
export type QuantizeFileType =
  | 'Q8_0'
  | 'Q4_0'
  | 'Q2_K'
  | 'Q3_K_S'
  | 'Q3_K_M'
  | 'Q3_K_L'
  | 'Q4_K_S'
  | 'Q4_K_M'
  | 'Q5_K_S'
  | 'Q5_K_M'
  | 'Q6_K';

/**
 * Every mix `planQuantization` can plan. The extra ones (Q4_1, Q5_0, Q5_1, F16, BF16, F32) are
 * planned exactly as llama-quantize plans them, for `--dry-run` and comparisons.
 */
export type PlanFileType = QuantizeFileType | 'Q4_1' | 'Q5_0' | 'Q5_1' | 'F16' | 'BF16' | 'F32';

/** llama.cpp's `llama_ftype` numbers (include/llama.h), stored as `general.file_type`. */
export const LLAMA_FTYPE: Record<PlanFileType, number> = {
  F32: 0,
  F16: 1,
  Q4_0: 2,
  Q4_1: 3,
  Q8_0: 7,
  Q5_0: 8,
  Q5_1: 9,
  Q2_K: 10,
  Q3_K_S: 11,
  Q3_K_M: 12,
  Q3_K_L: 13,
  Q4_K_S: 14,
  Q4_K_M: 15,
  Q5_K_S: 16,
  Q5_K_M: 17,
  Q6_K: 18,
  BF16: 32,
};

/** The tensor type a mix uses where no rule says otherwise (llama_ftype_get_default_type). */
export const DEFAULT_TYPE: Record<PlanFileType, number> = {
  F32: T.F32,
  F16: T.F16,
  BF16: T.BF16,
  Q4_0: T.Q4_0,
  Q4_1: T.Q4_1,
  Q5_0: T.Q5_0,
  Q5_1: T.Q5_1,
  Q8_0: T.Q8_0,
  Q2_K: T.Q2_K,
  Q3_K_S: T.Q3_K,
  Q3_K_M: T.Q3_K,
  Q3_K_L: T.Q3_K,
  Q4_K_S: T.Q4_K,
  Q4_K_M: T.Q4_K,
  Q5_K_S: T.Q5_K,
  Q5_K_M: T.Q5_K,
  Q6_K: T.Q6_K,
};

export const PLAN_FILE_TYPES = Object.keys(LLAMA_FTYPE) as PlanFileType[];
export const QUANTIZE_FILE_TYPES: readonly QuantizeFileType[] = [
  'Q8_0',
  'Q4_0',
  'Q2_K',
  'Q3_K_S',
  'Q3_K_M',
  'Q3_K_L',
  'Q4_K_S',
  'Q4_K_M',
  'Q5_K_S',
  'Q5_K_M',
  'Q6_K',
];

/** GGML_QNT_VERSION: the quantization format version written as `general.quantization_version`. */
export const QUANTIZATION_VERSION = 2;

export function isPlanFileType(s: string): s is PlanFileType {
  return Object.hasOwn(LLAMA_FTYPE, s);
}

/** The mix name for a `general.file_type` number, if it is one we know. */
export function fileTypeName(ftype: number): PlanFileType | undefined {
  return PLAN_FILE_TYPES.find((k) => LLAMA_FTYPE[k] === ftype);
}
