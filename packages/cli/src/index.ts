/**
 * @quant/cli — the `quant` command. The bin is `dist/bin.js`; this entry exposes the pieces for
 * embedding and tests.
 */
export { createProgram, main } from './program.js';
export { EXIT, type ExitCode } from './exit-codes.js';
export { CliError, type CliErrorCode, describeError, type UserError } from './errors.js';
export {
  chunkInput,
  type ChunkScore,
  DEFAULT_PERPLEXITY_CTX,
  negLogProb,
  PerplexityAccumulator,
  type PerplexityPlan,
  planPerplexity,
  scoreChunk,
} from './perplexity/chunks.js';
export { type BenchResult, formatBenchTable } from './commands/bench.js';
export { mean, stddev } from './stats.js';
