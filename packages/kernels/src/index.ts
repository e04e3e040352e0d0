export { KernelError, type KernelErrorCode } from './errors';
export { loadKernels } from './load';
export { KERNEL_TYPES, type KernelTypeInfo, kernelType } from './type-table';
export * from './types';
