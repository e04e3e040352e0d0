/** Re-export for tests that still import this path; the writer lives in @quant/test-utils. */
export {
  type FloatWeights,
  type SyntheticPhi3Config,
  syntheticPrompt,
  type WeightType,
  writeSyntheticPhi3,
} from '@quant/test-utils';
