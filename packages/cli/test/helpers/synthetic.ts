/**
 * The CLI tests' synthetic models: small random-weight Llama GGUFs from @quant/test-utils whose
 * end-of-text token's output row is zero, so sampling practically never ends an answer by itself
 * (useful for Ctrl-C tests), and a huge sparse file for the "too large" error.
 */
import { closeSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { encodeGGUFHeader } from '@quant/gguf';
import { type SyntheticLlamaConfig, syntheticLlamaMetadata, writeSyntheticLlama } from '@quant/test-utils';

/** The model's shape, seed, and optionally architecture name, context length and chat template. */
export type SyntheticConfig = Pick<
  SyntheticLlamaConfig,
  'arch' | 'nEmbd' | 'nLayers' | 'nHeads' | 'nKvHeads' | 'nFF' | 'contextLength' | 'seed' | 'chatTemplate'
>;

/** All-F32, mulberry32 weights, a strong LM head with a silent </s>, two extra pieces ("▁upon", "▁time"). */
function fullConfig(cfg: SyntheticConfig): SyntheticLlamaConfig {
  return {
    contextLength: 4096,
    ...cfg,
    rng: 'mulberry32',
    output: { scale: 4, lean: 0 },
    silentEos: true,
    fileType: 0,
    name: `synthetic-${cfg.arch ?? 'llama'}`,
    extraPieces: ['▁upon', '▁time'],
  };
}

/** Writes an all-F32 random Llama (or, with `arch`, the same tensors under another architecture name). */
export function writeSyntheticModel(path: string, cfg: SyntheticConfig): Promise<void> {
  return writeSyntheticLlama(path, fullConfig(cfg));
}

/**
 * A valid GGUF header declaring a token embedding of `bytes` bytes, written as a sparse file (no
 * disk space used): a model larger than this machine's memory, for the "too large" error.
 */
export function writeHugeSparseModel(path: string, bytes: number): void {
  const cfg: SyntheticConfig = { nEmbd: 4096, nLayers: 1, nHeads: 32, nKvHeads: 32, nFF: 11008, seed: 1 };
  const rows = Math.ceil(bytes / (4096 * 4));
  const header = encodeGGUFHeader({
    metadata: syntheticLlamaMetadata(fullConfig(cfg)) as never,
    tensors: [{ name: 'token_embd.weight', type: 0, shape: [4096, rows] }],
  });
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, header.header);
    ftruncateSync(fd, header.totalSize);
  } finally {
    closeSync(fd);
  }
}
