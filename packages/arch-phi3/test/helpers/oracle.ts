/**
 * node-llama-cpp (prebuilt llama.cpp, CPU) as the oracle: logits at every prompt position for a
 * given context size and KV cache type.
 */
import { getLlama, type Llama } from 'node-llama-cpp';

let llamaPromise: Promise<Llama> | undefined;
export function oracle(): Promise<Llama> {
  llamaPromise ??= getLlama({ gpu: false, build: 'never', logLevel: 'error' } as never);
  return llamaPromise;
}

export interface OracleOptions {
  contextSize: number;
  /** KV cache element type (llama.cpp's default is f16). */
  kvType?: 'f16' | 'f32';
}

/** llama.cpp's logits after each of `tokens` (one row of nVocab per token). */
export async function oracleLogits(
  modelPath: string,
  tokens: readonly number[],
  o: OracleOptions,
): Promise<Float32Array[]> {
  const llama = await oracle();
  const model = await llama.loadModel({ modelPath });
  try {
    const kv =
      o.kvType === 'f32' ? { experimentalKvCacheKeyType: 'F32', experimentalKvCacheValueType: 'F32' } : {};
    const ctx = await model.createContext({
      contextSize: o.contextSize,
      threads: 1,
      flashAttention: false,
      ...kv,
    } as never);
    try {
      const seq = ctx.getSequence();
      const res = await seq.controlledEvaluate(
        tokens.map((t) => [t, { generateNext: { logits: true } }] as never),
      );
      return res.map((r) => {
        const m = (r as { next: { logits: Map<number, number> } }).next.logits;
        const out = new Float32Array(m.size);
        for (const [id, v] of m) out[id] = v;
        return out;
      });
    } finally {
      await ctx.dispose();
    }
  } finally {
    await model.dispose();
  }
}
