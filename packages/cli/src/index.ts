/**
 * @quant/cli — the `quant` command. The bin is `dist/bin.js`; this entry exposes the pieces for
 * embedding and tests.
 */

export { type BenchResult, formatBenchTable } from './commands/bench.js';
export { CliError, type CliErrorCode, describeError, type UserError } from './errors.js';
export { EXIT, type ExitCode } from './exit-codes.js';
export {
  type ChunkScore,
  chunkInput,
  DEFAULT_PERPLEXITY_CTX,
  negLogProb,
  PerplexityAccumulator,
  type PerplexityPlan,
  planPerplexity,
  scoreChunk,
} from './perplexity/chunks.js';
export { createProgram, main } from './program.js';
export { mean, stddev } from './stats.js';
