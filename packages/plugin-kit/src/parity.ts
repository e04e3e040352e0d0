/**
 * A plugin's logits beside llama.cpp's on the same tokens: llama.cpp through node-llama-cpp (an
 * optional peer dependency: prebuilt CPU binaries, never compiled here), quant through
 * @quant/runtime's `loadModel` (which picks the plugin registered for the file's architecture).
 */
import { PluginError } from '@quant/plugin-api';
import { type Comparison, compareLogits } from './compare.js';

export interface LlamaCppOptions {
  /** Context size (default 512). */
  contextSize?: number;
  /** KV cache type, both K and V (default 'f32': no rounding of the cache on either side). */
  kvType?: 'f32' | 'f16';
  /** llama.cpp's flash attention (default false: its standard mul_mat + softmax path). */
  flashAttention?: boolean;
}

// biome-ignore lint/suspicious/noExplicitAny: node-llama-cpp is an optional peer; its types may be absent
type AnyLlama = any;
let llamaPromise: Promise<AnyLlama> | undefined;

async function llama(): Promise<AnyLlama> {
  llamaPromise ??= (async () => {
    let mod: AnyLlama;
    try {
      mod = await import('node-llama-cpp');
    } catch (e) {
      throw new PluginError(
        'UNSUPPORTED_MODEL',
        `llama.cpp parity needs the node-llama-cpp package (an optional peer dependency of @quant/plugin-kit): npm install --save-dev node-llama-cpp (${(e as Error).message})`,
      );
    }
    return mod.getLlama({ gpu: false, build: 'never', logLevel: 'error' });
  })();
  return llamaPromise;
}

/** llama.cpp's logits after each of `tokens` (one row of nVocab per token), in a fresh context. */
export async function llamaCppLogits(
  modelPath: string,
  tokens: readonly number[],
  o: LlamaCppOptions = {},
): Promise<Float32Array[]> {
  const l = await llama();
  const model = await l.loadModel({ modelPath });
  try {
    const kv = (o.kvType ?? 'f32').toUpperCase();
    const ctx = await model.createContext({
      contextSize: o.contextSize ?? 512,
      threads: 1,
      flashAttention: o.flashAttention ?? false,
      experimentalKvCacheKeyType: kv,
      experimentalKvCacheValueType: kv,
    });
    try {
      const seq = ctx.getSequence();
      const res = await seq.controlledEvaluate(tokens.map((t) => [t, { generateNext: { logits: true } }]));
      return res.map((r: AnyLlama, i: number) => {
        const m = r?.next?.logits as Map<number, number> | undefined;
        if (!m) throw new Error(`llama.cpp returned no logits at position ${i}`);
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

export interface ParityOptions extends LlamaCppOptions {
  /** The GGUF quant runs (its architecture's plugin must be registered: import your plugin first). */
  model: string;
  /**
   * The GGUF llama.cpp runs (default `model`): the same weights under the architecture name
   * llama.cpp knows, when your plugin's name is not one of llama.cpp's (write both with
   * `writeSyntheticModel`, same seed, two `architecture`s).
   */
  llamaCppModel?: string;
  /** Token ids (BOS first if the model wants one). */
  tokens: readonly number[];
  /** @quant/kernels backend (default: native if it loads, else wasm). */
  backend?: 'native' | 'wasm';
  /** `architectureOptions` for the plugin. */
  architectureOptions?: Record<string, unknown>;
}

export interface ParityReport extends Comparison {
  /** llama.cpp's logits, one row per token. */
  reference: Float32Array[];
  /** quant's logits, rows after rows. */
  ours: Float32Array;
  nVocab: number;
  /** max|Δ| ≤ 1e-3 · max|reference logit| (the bound for unquantized models). */
  withinF32Bound: boolean;
  /** Same argmax at every position (ties aside) and mean KL ≤ 0.01 (the bound for quantized models). */
  withinQuantizedBound: boolean;
}

/** Runs the same tokens through llama.cpp and through quant (your plugin) and compares every position's logits. */
export async function compareWithLlamaCpp(o: ParityOptions): Promise<ParityReport> {
  const contextSize = o.contextSize ?? 512;
  const kvType = o.kvType ?? 'f32';
  const flash = o.flashAttention ?? false;
  const reference = await llamaCppLogits(o.llamaCppModel ?? o.model, o.tokens, {
    contextSize,
    kvType,
    flashAttention: flash,
  });
  const { loadModel } = await import('@quant/runtime');
  const model = await loadModel(o.model, {
    threads: 1,
    contextSize,
    batchSize: Math.max(1, Math.min(o.tokens.length, 64)),
    kvType,
    flashAttention: flash,
    ...(o.backend ? { backend: o.backend } : {}),
    ...(o.architectureOptions ? { architectureOptions: o.architectureOptions } : {}),
  });
  try {
    const s = model.createSession();
    try {
      const ours = await s.evaluate([...o.tokens], { allLogits: true });
      const nVocab = model.hparams.nVocab;
      const c = compareLogits(reference, ours, nVocab);
      return {
        ...c,
        reference,
        ours,
        nVocab,
        withinF32Bound: c.maxAbsDiff <= 1e-3 * c.maxAbsRef,
        withinQuantizedBound: c.argmaxMismatches.length === 0 && c.meanKL <= 0.01,
      };
    } finally {
      s.dispose();
    }
  } finally {
    model.dispose();
  }
}

/** One line describing a report (for assertion messages). */
export function describeParity(r: ParityReport): string {
  return (
    `max|Δlogit| ${r.maxAbsDiff.toExponential(3)} (bound 1e-3·max|logit| = ${(1e-3 * r.maxAbsRef).toExponential(3)}), ` +
    `mean KL ${r.meanKL.toExponential(3)}, argmax mismatches at ${r.argmaxMismatches.length ? r.argmaxMismatches.join(', ') : 'none'}`
  );
}
