export { keepReason, type TensorCategory, tensorCategory } from './categories.js';
export { QuantizeError, type QuantizeErrorCode } from './errors.js';
export {
  DEFAULT_TYPE,
  fileTypeName,
  isPlanFileType,
  LLAMA_FTYPE,
  PLAN_FILE_TYPES,
  type PlanFileType,
  QUANTIZATION_VERSION,
  QUANTIZE_FILE_TYPES,
  type QuantizeFileType,
} from './file-type.js';
export { outputMetadata } from './metadata.js';
export { modelFacts } from './model-facts.js';
export {
  compareTensorNames,
  formatPlan,
  type PlannedTensor,
  type PlanOptions,
  type PlanSourceFile,
  type PlanTensorInput,
  planQuantization,
  planTensors,
  type QuantPlan,
} from './plan.js';
export {
  maxQuantizeThreads,
  type QuantizeOptions,
  type QuantizeOutputStream,
  type QuantizeResult,
  type QuantizeStreamResult,
  quantizeModel,
  quantizeToStream,
} from './quantize-model.js';
export { blockFallback, type ModelFacts, useMoreBits } from './rules.js';
export { liveTemporaryOutputs, PARTIAL_MARKER } from './safe-output.js';
