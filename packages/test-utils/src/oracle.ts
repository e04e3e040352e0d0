/**
 * node-llama-cpp (prebuilt llama.cpp, CPU) as the oracle: one Llama instance per test process,
 * logits at every position of a token sequence.
 */
import { getLlama, type Llama, type LlamaModel, type Token } from 'node-llama-cpp';

let llamaPromise: Promise<Llama> | undefined;
/** The shared node-llama-cpp instance (CPU, prebuilt binaries only, errors-only logging). */
export function oracle(): Promise<Llama> {
  llamaPromise ??= getLlama({ gpu: false, build: 'never', logLevel: 'error' } as never);
  return llamaPromise;
}

/** llama.cpp's KV cache types (`--cache-type-k/-v` names). */
export type OracleKvType = 'f32' | 'f16' | 'bf16' | 'q8_0' | 'q4_0' | 'q4_1' | 'q5_0' | 'q5_1' | 'iq4_nl';

export interface OracleOptions {
  /** Context size (default 512). */
  contextSize?: number;
  /** Batch size (default node-llama-cpp's). */
  batchSize?: number;
  /**
   * KV cache element types (llama.cpp's default is f16): one for K and V or `{ k, v }`, passed as
   * node-llama-cpp's experimentalKvCacheKeyType/ValueType (a quantized V needs flashAttention: true).
   */
  kvType?: OracleKvType | { k: OracleKvType; v: OracleKvType };
  /**
   * Flash attention (default false, as ../shared/reference was recorded: llama.cpp then rounds Q and
   * the softmax weights to F16 against an F16 KV cache); 'model-default' leaves node-llama-cpp's choice.
   */
  flashAttention?: boolean | 'model-default';
}

/** Logits after each of `tokens` in a fresh context of `model` (one row of nVocab per token). */
async function evaluate(
  model: LlamaModel,
  tokens: readonly number[],
  o: OracleOptions,
): Promise<Float32Array[]> {
  const t =
    o.kvType === undefined
      ? undefined
      : typeof o.kvType === 'string'
        ? { k: o.kvType, v: o.kvType }
        : o.kvType;
  const kv = t
    ? { experimentalKvCacheKeyType: t.k.toUpperCase(), experimentalKvCacheValueType: t.v.toUpperCase() }
    : {};
  const ctx = await model.createContext({
    contextSize: o.contextSize ?? 512,
    threads: 1,
    ...(o.flashAttention === 'model-default' ? {} : { flashAttention: o.flashAttention ?? false }),
    ...(o.batchSize === undefined ? {} : { batchSize: o.batchSize }),
    ...kv,
  } as never);
  try {
    const seq = ctx.getSequence();
    const res = await seq.controlledEvaluate(
      tokens.map((t) => [t as unknown as Token, { generateNext: { logits: true } }] as const),
    );
    return res.map((r, i) => {
      const m = r?.next?.logits;
      if (!m) throw new Error(`oracle: llama.cpp returned no logits at position ${i}`);
      const out = new Float32Array(m.size);
      for (const [id, v] of m) out[id] = v;
      return out;
    });
  } finally {
    await ctx.dispose();
  }
}

/** llama.cpp's logits after each of `tokens` (one row of nVocab per token). */
export async function oracleLogits(
  modelPath: string,
  tokens: readonly number[],
  o: OracleOptions = {},
): Promise<Float32Array[]> {
  return (await oracleLogitsMany(modelPath, [tokens], o))[0] as Float32Array[];
}

/** llama.cpp's logits at every position of each sequence (one fresh context per sequence, one model load). */
export async function oracleLogitsMany(
  modelPath: string,
  sequences: readonly (readonly number[])[],
  o: OracleOptions = {},
): Promise<Float32Array[][]> {
  const model = await (await oracle()).loadModel({ modelPath });
  try {
    const out: Float32Array[][] = [];
    for (const tokens of sequences) out.push(await evaluate(model, tokens, o));
    return out;
  } finally {
    await model.dispose();
  }
}

/** llama.cpp's tokens of each text (special tokens not parsed), BOS first when the vocabulary has one. */
export async function oracleTokenize(modelPath: string, texts: readonly string[]): Promise<number[][]> {
  const model = await (await oracle()).loadModel({ modelPath, vocabOnly: true });
  try {
    const bos = model.tokens.bos;
    return texts.map((t) => [...(bos === null ? [] : [bos]), ...model.tokenize(t, false)].map(Number));
  } finally {
    await model.dispose();
  }
}
