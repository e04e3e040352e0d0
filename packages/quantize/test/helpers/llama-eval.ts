/**
 * Runs GGUF files in llama.cpp through node-llama-cpp (the oracle) and measures how far a quantized
 * file's next-token distributions are from a reference file's.
 */
import { getLlama, type Llama, LlamaLogLevel, type Token } from 'node-llama-cpp';

let llamaPromise: Promise<Llama> | undefined;
export function oracle(): Promise<Llama> {
  llamaPromise ??= getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
  return llamaPromise;
}

/** Full logits at every position of each token sequence (BOS-prefixed by the caller), one Float64Array per position. */
export async function logitsOf(modelPath: string, sequences: number[][]): Promise<Float64Array[][]> {
  const llama = await oracle();
  const model = await llama.loadModel({ modelPath });
  try {
    const out: Float64Array[][] = [];
    for (const tokens of sequences) {
      const ctx = await model.createContext({ contextSize: 256, threads: 1, batchSize: 256 });
      try {
        const seq = ctx.getSequence();
        const res = await seq.controlledEvaluate(
          tokens.map((t) => [t as unknown as Token, { generateNext: { logits: true } }] as const),
        );
        out.push(
          res.map((r) => {
            const m = r?.next?.logits;
            if (!m) throw new Error('no logits returned');
            const v = new Float64Array(m.size);
            for (const [id, logit] of m) v[id] = logit;
            return v;
          }),
        );
      } finally {
        await ctx.dispose();
      }
    }
    return out;
  } finally {
    await model.dispose();
  }
}

export function tokenize(modelPath: string, texts: string[]): Promise<number[][]> {
  return (async () => {
    const llama = await oracle();
    const model = await llama.loadModel({ modelPath, vocabOnly: true });
    try {
      const bos = model.tokens.bos;
      return texts.map((t) => [...(bos === null ? [] : [bos]), ...model.tokenize(t, false)].map(Number));
    } finally {
      await model.dispose();
    }
  })();
}

function logSoftmax(x: Float64Array): Float64Array {
  let max = -Infinity;
  for (const v of x) if (v > max) max = v;
  let s = 0;
  for (const v of x) s += Math.exp(v - max);
  const lse = max + Math.log(s);
  return x.map((v) => v - lse);
}

/** KL(p || q) of two logit vectors. */
export function kl(pLogits: Float64Array, qLogits: Float64Array): number {
  const lp = logSoftmax(pLogits);
  const lq = logSoftmax(qLogits);
  let d = 0;
  for (let i = 0; i < lp.length; i++) d += Math.exp(lp[i]!) * (lp[i]! - lq[i]!);
  return d;
}

/** Mean KL(reference || candidate) over every position of every sequence. */
export function meanKL(ref: Float64Array[][], cand: Float64Array[][]): number {
  let s = 0;
  let n = 0;
  for (const [i, seq] of ref.entries()) {
    for (const [j, p] of seq.entries()) {
      s += kl(p, cand[i]?.[j] as Float64Array);
      n++;
    }
  }
  return s / n;
}

export function allFinite(ls: Float64Array[][]): boolean {
  return ls.every((seq) => seq.every((v) => v.every(Number.isFinite)));
}
