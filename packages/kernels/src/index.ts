export * from './types';
export { KernelError, type KernelErrorCode } from './errors';
export { loadKernels } from './load';
export { KERNEL_TYPES, kernelType, type KernelTypeInfo } from './type-table';
