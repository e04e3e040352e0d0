// Header parsing speed against @huggingface/gguf on the same files: the phi-3 vocab (32,064
// tokens, from ../shared) and a synthetic header with 100,000 tensors. Run: pnpm --filter @quant/gguf bench
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gguf } from '@huggingface/gguf';
import { encodeGGUFHeader, GGMLType, parseGGUF } from '@quant/gguf';
import { bench, describe } from 'vitest';
import { sharedDir } from '../../../vitest.shared';

const phi3 = join(sharedDir, 'vocab', 'ggml-vocab-phi-3.gguf');

// 100k tensors of 16 F32 elements each: header only (tensor data would be 6.4 MB of zeros; the
// header is what is parsed), written as a file whose data section is sparse.
const tmp = mkdtempSync(join(tmpdir(), 'gguf-bench-'));
const many = join(tmp, 'many-tensors.gguf');
const enc = encodeGGUFHeader({
  metadata: { 'general.architecture': 'llama', 'general.name': 'bench' },
  tensors: Array.from({ length: 100_000 }, (_, i) => ({
    name: `blk.${Math.floor(i / 10)}.tensor_${i % 10}.weight`,
    type: GGMLType.F32,
    shape: [16],
  })),
});
const manyBytes = new Uint8Array(enc.totalSize);
manyBytes.set(enc.header);
writeFileSync(many, manyBytes);

if (existsSync(phi3)) {
  const phi3Bytes = new Uint8Array(readFileSync(phi3));
  describe('phi-3 vocab header (32,064 tokens)', () => {
    bench('@quant/gguf (path)', async () => {
      await parseGGUF(phi3);
    });
    bench('@quant/gguf (bytes in memory)', async () => {
      await parseGGUF(phi3Bytes);
    });
    bench('@huggingface/gguf (path)', async () => {
      await gguf(phi3, { allowLocalFile: true });
    });
  });
} else {
  console.warn(`[gguf bench] ${phi3} absent: skipping the phi-3 vocab benchmark`);
}

describe('synthetic header with 100,000 tensors', () => {
  bench('@quant/gguf (path)', async () => {
    await parseGGUF(many);
  });
  bench('@quant/gguf (bytes in memory)', async () => {
    await parseGGUF(manyBytes);
  });
  bench('@huggingface/gguf (path)', async () => {
    await gguf(many, { allowLocalFile: true });
  });
});
