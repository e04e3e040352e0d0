/** Re-export for tests that still import this path; the probe lives in @quant/test-utils. */
export { availableBackends, BACKENDS, type Backend, backendUnavailable } from '@quant/test-utils';
