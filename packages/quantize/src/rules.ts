/**
 * llama-quantize's per-tensor type rules for the mixes we plan (llama_tensor_get_type and its
 * helpers in llama.cpp's src/llama-quant.cpp), re-expressed: each rule returns the type and a
 * human-readable reason for `--dry-run`.
 */
import type { TensorCategory } from './categories.js';
import type { PlanFileType } from './file-type.js';
import { blockSize, T, typeName } from './ggml-types.js';

/** The model facts the rules read (from the GGUF metadata). */
export interface ModelFacts {
  arch: string;
  /** `<arch>.block_count` */
  nLayer: number;
  nHead: number;
  nHeadKv: number;
  /** `<arch>.expert_count`, 0 when absent. */
  nExpert: number;
  /** llama.cpp's LLM_TYPE_70B: a llama with 80 layers and grouped-query attention. */
  is70B: boolean;
}

/** Running counters, advanced tensor by tensor in llama.cpp's tensor order. */
export interface RuleState {
  nAttnV: number;
  iAttnV: number;
  nFfnDown: number;
  iFfnDown: number;
  nFfnGate: number;
  iFfnGate: number;
  nFfnUp: number;
  iFfnUp: number;
  /** True when the model has no output.weight (the output reuses token_embd). */
  tiedEmbeddings: boolean;
}

export interface Choice {
  type: number;
  reason: string;
}

/** Layers llama.cpp gives more bits in the *_M mixes: the first and last eighth, and every third in between. */
export function useMoreBits(iLayer: number, nLayers: number): boolean {
  const e = Math.trunc(nLayers / 8);
  return iLayer < e || iLayer >= Math.trunc((7 * nLayers) / 8) || (iLayer - e) % 3 === 2;
}

/** C integer division semantics for the few places the rules divide. */
const div = (a: number, b: number): number => Math.trunc(a / b);

function nGqa(m: ModelFacts): number {
  return m.nHeadKv === 0 ? 0 : div(m.nHead, m.nHeadKv);
}

/** Layer index for per-layer rules: the counter, or for MoE models the number in `blk.N.`. */
function layerOf(counter: number, nLayer: number, name: string, m: ModelFacts): [number, number] {
  if (m.nExpert > 1) {
    const match = /^blk\.(\d+)\./.exec(name);
    if (!match) throw new RangeError(`cannot determine the layer of tensor ${name}`);
    const i = Number(match[1]);
    if (i >= nLayer)
      throw new RangeError(`tensor ${name} is in layer ${i}, but the model has ${nLayer} layers`);
    return [i, nLayer];
  }
  return [counter, nLayer];
}

const layerText = (i: number, n: number) => `layer ${i} of ${n}`;

/**
 * The mix's choice for one quantizable tensor (before the block-size fallback). `def` is the mix's
 * default type. Advances the counters in `s` exactly as llama.cpp does.
 */
export function mixChoice(
  s: RuleState,
  m: ModelFacts,
  ftype: PlanFileType,
  def: number,
  name: string,
  ne0: number,
  cat: TensorCategory,
): Choice {
  const keep = (why: string): Choice => ({ type: def, reason: why });
  const falcon = m.arch === 'falcon';

  if (cat === 'output' || (s.tiedEmbeddings && cat === 'token_embd')) {
    const what = cat === 'output' ? 'output.weight' : 'token_embd.weight (tied to the output)';
    if (falcon || ne0 % blockSize(def) !== 0) {
      return {
        type: T.Q8_0,
        reason: `${what}: Q8_0 (${falcon ? 'falcon' : `${ne0} columns not a multiple of ${blockSize(def)}`})`,
      };
    }
    if (def !== T.Q8_0) return { type: T.Q6_K, reason: `${what}: always Q6_K in ${ftype}` };
    return keep(`${what}: Q8_0`);
  }

  if (cat === 'token_embd') return keep(`token embeddings: ${ftype} default`);

  if (cat === 'attn_v' || cat === 'attn_kv_b') {
    const i = s.iAttnV;
    const n = s.nAttnV;
    let t = def;
    let why = `${ftype} default`;
    if (ftype === 'Q2_K') {
      t = nGqa(m) >= 4 ? T.Q4_K : T.Q3_K;
      why = `Q2_K: attn_v is ${typeName(t)} (GQA factor ${nGqa(m)} ${nGqa(m) >= 4 ? '>=' : '<'} 4)`;
    } else if (ftype === 'Q3_K_M') {
      t = i < 2 ? T.Q5_K : T.Q4_K;
      why = `Q3_K_M: attn_v ${i < 2 ? 'of the first two layers is Q5_K' : 'is Q4_K'}`;
    } else if (ftype === 'Q3_K_L') {
      t = T.Q5_K;
      why = 'Q3_K_L: attn_v is Q5_K';
    } else if ((ftype === 'Q4_K_M' || ftype === 'Q5_K_M') && useMoreBits(i, n)) {
      t = T.Q6_K;
      why = `${ftype}: attn_v gets Q6_K on use_more_bits layers (${layerText(i, n)})`;
    } else if (ftype === 'Q4_K_S' && i < 4) {
      t = T.Q5_K;
      why = `Q4_K_S: attn_v of the first four layers is Q5_K (${layerText(i, n)})`;
    } else if (ftype === 'Q4_K_M' || ftype === 'Q5_K_M') {
      why = `${ftype}: attn_v keeps ${typeName(def)} off the use_more_bits layers (${layerText(i, n)})`;
    }
    if (m.is70B && (t === T.Q3_K || t === T.Q4_K)) {
      t = T.Q5_K;
      why += '; 70B model (8 heads share attn_v): raised to Q5_K';
    }
    if (m.nExpert === 8) {
      t = T.Q8_0;
      why = '8-expert model: attn_v is Q8_0';
    }
    s.iAttnV++;
    return { type: t, reason: why };
  }

  if (cat === 'attn_k') {
    if (m.nExpert === 8) return { type: T.Q8_0, reason: '8-expert model: attn_k is Q8_0' };
    return keep(`${ftype} default`);
  }

  if (cat === 'ffn_down') {
    const [i, n] = layerOf(s.iFfnDown, s.nFfnDown, name, m);
    s.iFfnDown++;
    const at = layerText(i, n);
    switch (ftype) {
      case 'Q2_K':
        return { type: T.Q3_K, reason: 'Q2_K: ffn_down is Q3_K' };
      case 'Q3_K_M':
        if (i < div(n, 16))
          return {
            type: T.Q5_K,
            reason: `Q3_K_M: ffn_down of the first sixteenth of layers is Q5_K (${at})`,
          };
        if (!falcon || useMoreBits(i, n)) return { type: T.Q4_K, reason: `Q3_K_M: ffn_down is Q4_K (${at})` };
        return {
          type: T.Q3_K,
          reason: `Q3_K_M (falcon): ffn_down is Q3_K off the use_more_bits layers (${at})`,
        };
      case 'Q3_K_L':
        return falcon
          ? { type: T.Q4_K, reason: 'Q3_K_L (falcon): ffn_down is Q4_K' }
          : { type: T.Q5_K, reason: 'Q3_K_L: ffn_down is Q5_K' };
      case 'Q4_K_M':
        if (falcon) {
          if (i < div(n, 16))
            return { type: T.Q6_K, reason: `Q4_K_M (falcon): first sixteenth of ffn_down is Q6_K (${at})` };
          if (useMoreBits(i, n))
            return { type: T.Q5_K, reason: `Q4_K_M (falcon): use_more_bits ffn_down is Q5_K (${at})` };
          return keep(`Q4_K_M (falcon): ffn_down default (${at})`);
        }
        if (useMoreBits(i, n))
          return { type: T.Q6_K, reason: `Q4_K_M: ffn_down gets Q6_K on use_more_bits layers (${at})` };
        return keep(`Q4_K_M: ffn_down keeps Q4_K off the use_more_bits layers (${at})`);
      case 'Q5_K_M':
        if (useMoreBits(i, n))
          return { type: T.Q6_K, reason: `Q5_K_M: ffn_down gets Q6_K on use_more_bits layers (${at})` };
        return keep(`Q5_K_M: ffn_down keeps Q5_K off the use_more_bits layers (${at})`);
      case 'Q4_K_S':
        if (!falcon && i < div(n, 8))
          return { type: T.Q5_K, reason: `Q4_K_S: ffn_down of the first eighth of layers is Q5_K (${at})` };
        return keep(`Q4_K_S: ffn_down default (${at})`);
      default:
        return keep(`${ftype} default`);
    }
  }

  if (cat === 'attn_output') {
    if (!falcon) {
      if (m.nExpert === 8) {
        if (['Q2_K', 'Q3_K_S', 'Q3_K_M', 'Q4_K_S', 'Q4_K_M'].includes(ftype)) {
          return { type: T.Q5_K, reason: `8-expert model: attn_output is Q5_K in ${ftype}` };
        }
        return keep(`${ftype} default`);
      }
      if (ftype === 'Q2_K') return { type: T.Q3_K, reason: 'Q2_K: attn_output is Q3_K' };
      if (ftype === 'Q3_K_M') return { type: T.Q4_K, reason: 'Q3_K_M: attn_output is Q4_K' };
      if (ftype === 'Q3_K_L') return { type: T.Q5_K, reason: 'Q3_K_L: attn_output is Q5_K' };
    } else if (ftype === 'Q3_K_L') {
      return { type: T.Q4_K, reason: 'Q3_K_L (falcon): attn_output is Q4_K' };
    }
    return keep(`${ftype} default`);
  }

  if (cat === 'attn_qkv') {
    // The fused projection has its own rule in the llama-quantize that made the reference files
    // (Q5_K in Q4_K_M, Q6_K in Q5_K_M for every layer), not the attn_v layer pattern.
    if (ftype === 'Q3_K_M' || ftype === 'Q3_K_L')
      return { type: T.Q4_K, reason: `${ftype}: fused attn_qkv is Q4_K` };
    if (ftype === 'Q4_K_M') return { type: T.Q5_K, reason: 'Q4_K_M: fused attn_qkv is Q5_K' };
    if (ftype === 'Q5_K_M') return { type: T.Q6_K, reason: 'Q5_K_M: fused attn_qkv is Q6_K' };
    return keep(`${ftype} default`);
  }

  if (cat === 'ffn_gate') {
    layerOf(s.iFfnGate, s.nFfnGate, name, m);
    s.iFfnGate++;
  } else if (cat === 'ffn_up') {
    layerOf(s.iFfnUp, s.nFfnUp, name, m);
    s.iFfnUp++;
  }
  return keep(`${ftype} default`);
}

/** The type a block-size-incompatible row falls back to (tensor_type_fallback). */
const FALLBACK: Record<number, number> = {
  [T.Q2_K]: T.Q4_0,
  [T.Q3_K]: T.Q4_0,
  [T.Q4_K]: T.Q5_0,
  [T.Q5_K]: T.Q5_1,
  [T.Q6_K]: T.Q8_0,
};

/**
 * When a row of `ne0` elements is not a whole number of `type`'s blocks: K-quants fall back to a
 * 32-block type (Q4_K→Q5_0, Q5_K→Q5_1, Q6_K→Q8_0, Q2_K/Q3_K→Q4_0), and to F16 if even that does not fit.
 */
export function blockFallback(type: number, ne0: number): { type: number; reason: string } | undefined {
  const qk = blockSize(type);
  if (ne0 % qk === 0) return undefined;
  let to = FALLBACK[type] ?? type;
  let why = `${ne0} columns not a multiple of ${qk} (${typeName(type)})`;
  if (ne0 % blockSize(to) !== 0) {
    to = T.F16;
    why += `, nor of ${blockSize(FALLBACK[type] ?? type)}`;
  }
  return { type: to, reason: `${why}: falls back to ${typeName(to)}` };
}
