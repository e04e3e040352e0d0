/**
 * The Phi-3.5-mini-shaped synthetic Q4_K_M file shared by the fixtures in this folder: random
 * weights (fixed seed), the real Phi-3 vocabulary (../shared/vocab/ggml-vocab-phi-3.gguf), the real
 * shapes (32 layers, hidden 3072, 32 heads, no GQA, ffn 8192, vocab 32064, 128K context with
 * LongRoPE tables, original context 4096) and llama-quantize's Q4_K_M type mix.
 *
 * Weight scales are those of a trained model, not the small unit tests' sensitive ones: residual
 * branches (attn_output, ffn_down) at a quarter of the variance-preserving gain, Q/K/V at unit gain,
 * and an LM head that leans towards one token per row so the top logit stands clear. With the unit
 * tests' gains (Q/K ×2, branches ×1) 32 random layers are chaotic: on this machine llama.cpp's own
 * CPU builds (its AVX2, AVX-512 and AMX variants) disagreed with each other by mean KL 2–3.5e-2 with
 * argmax flips, so no implementation short of one build's exact summation order could meet the bound.
 *
 * The file (2.4 GB) is written once to $QUANT_PHI35_FIXTURE or the temp directory and reused.
 */
import { existsSync, renameSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadKernels } from '@quant/kernels';
import { type WeightType, writeSyntheticPhi3 } from '@quant/test-utils';
import { sharedDir } from '../../../vitest.shared';

export const VOCAB = join(sharedDir, 'vocab', 'ggml-vocab-phi-3.gguf');
export const PATH =
  process.env.QUANT_PHI35_FIXTURE ?? join(tmpdir(), 'quant-phi35-mini-synthetic-q4_k_m-v2.gguf');
export const THREADS = Number(process.env.QUANT_BENCH_THREADS ?? 2);
const N_LAYERS = 32;

/** llama-quantize's use_more_bits(i, n): the first and last eighth, and every third layer between. */
const moreBits = (i: number, n: number) => i < n / 8 || i >= (7 * n) / 8 || (i - n / 8) % 3 === 2;

/** Q4_K_M as llama-quantize assigns it for phi3 (llama-quant.cpp): Q6_K head and some ffn_down, Q5_K attn_qkv. */
function q4km(name: string): WeightType {
  if (name === 'output.weight') return 'Q6_K';
  const m = /^blk\.(\d+)\.(.*)$/.exec(name);
  if (m?.[2] === 'attn_qkv.weight') return 'Q5_K';
  if (m?.[2] === 'ffn_down.weight' && moreBits(Number(m[1]), N_LAYERS)) return 'Q6_K';
  return 'Q4_K';
}

/** Writes the fixture unless it is already there (written under a temporary name, then renamed). */
export async function ensureFixture(): Promise<void> {
  if (existsSync(PATH)) return;
  const partial = `${PATH}.partial`;
  const k = await loadKernels({ threads: THREADS });
  const t0 = performance.now();
  try {
    await writeSyntheticPhi3(
      partial,
      {
        nEmbd: 3072,
        nLayers: N_LAYERS,
        nHeads: 32,
        nKvHeads: 32,
        nFF: 8192,
        seed: 35,
        weightType: q4km,
        vocabFile: VOCAB,
        name: 'Phi3',
        contextLength: 131072,
        slidingWindow: 262144,
        longRope: { originalContextLength: 4096, attnFactor: 1.1902380714238083 },
        keepFloats: false,
        gains: { qkv: 1, branch: 0.25, output: 2, lean: 0.03 },
      },
      (t, src, rows, cols) => k.quantize(t, src, rows, cols),
    );
    renameSync(partial, PATH);
  } finally {
    k.dispose();
  }
  console.log(
    `[phi35-mini] wrote ${PATH} (${(statSync(PATH).size / 1e9).toFixed(2)} GB) in ${((performance.now() - t0) / 1000).toFixed(0)} s`,
  );
}
