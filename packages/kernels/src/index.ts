export { KernelError, type KernelErrorCode } from './errors';
export {
  checkKvTypeForHead,
  KV_CACHE_TYPES,
  type KVTypeInfo,
  kvBitsPerValue,
  kvCacheBytes,
  kvRotationSizes,
  kvRowBytes,
  kvStateBytes,
  kvTypeInfo,
  kvTypes,
  kvTypesForHead,
  STANDARD_PATH_V_TYPES,
} from './kv-types';
export { type LoadedKernels, loadKernels } from './load';
export { KERNEL_TYPES, type KernelTypeInfo, kernelType } from './type-table';
export * from './types';
