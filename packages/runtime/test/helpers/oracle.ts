/** node-llama-cpp (prebuilt llama.cpp, CPU) as the oracle: logits at every prompt position. */
import { getLlama, type Llama } from 'node-llama-cpp';

let llamaPromise: Promise<Llama> | undefined;
export function oracle(): Promise<Llama> {
  llamaPromise ??= getLlama({ gpu: false, build: 'never', logLevel: 'error' } as never);
  return llamaPromise;
}

/** llama.cpp's logits after each of `tokens` (row after row, nVocab each). */
export async function oracleLogits(
  modelPath: string,
  tokens: readonly number[],
  contextSize = 512,
): Promise<Float32Array[]> {
  const llama = await oracle();
  const model = await llama.loadModel({ modelPath });
  try {
    // Without flash attention, as ../shared/reference was recorded (llama.cpp then rounds Q and the
    // softmax weights to F16 against an F16 KV cache).
    const ctx = await model.createContext({ contextSize, threads: 1, flashAttention: false });
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
