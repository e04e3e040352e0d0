/** Re-export for tests that still import this path; the helpers live in @quant/test-utils. */
export { argmaxOf, type Comparison, compareLogits, klDivergence } from '@quant/test-utils';
