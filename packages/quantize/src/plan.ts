/**
 * The quantization plan: for every tensor, the type llama-quantize would write and why, in the order
 * llama-quantize walks (and writes) the tensors.
 */
import { keepReason, tensorCategory } from './categories.js';
import { QuantizeError } from './errors.js';
import { DEFAULT_TYPE, isPlanFileType, LLAMA_FTYPE, type PlanFileType } from './file-type.js';
import { isKnownType, isQuantizedType, rowBytes, typeName } from './ggml-types.js';
import { modelFacts } from './model-facts.js';
import { blockFallback, type ModelFacts, mixChoice, type RuleState } from './rules.js';

export interface PlanOptions {
  /** The mix: Q8_0, Q4_0, Q2_K, Q3_K_S/M/L, Q4_K_S/M, Q5_K_S/M, Q6_K (and, for planning only, Q4_1, Q5_0, Q5_1, F16, BF16, F32). */
  type: PlanFileType;
  /** One type everywhere: skip the mix rules (output, attn_v, ffn_down …); block-size fallbacks still apply. */
  pure?: boolean;
  /** Leave output.weight in its source type (llama-quantize --leave-output-tensor). Default false. */
  leaveOutputTensor?: boolean;
}

/** The minimum a plan needs to know about one tensor. */
export interface PlanTensorInput {
  name: string;
  /** ggml type id of the stored data. */
  type: number;
  /** ne0 first (ne0 = row length). */
  shape: readonly number[];
}

export interface PlannedTensor {
  name: string;
  shape: number[];
  sourceType: number;
  sourceTypeName: string;
  targetType: number;
  targetTypeName: string;
  /** False when the data is copied unchanged (target type = source type). */
  convert: boolean;
  /** Why this type (the mix rule, a fallback, or why the tensor is never quantized). */
  reason: string;
  /** Set when a block-size fallback replaced the rule's type: the type the rule wanted. */
  fallbackFrom?: number;
  sourceBytes: number;
  targetBytes: number;
}

export interface QuantPlan {
  fileType: PlanFileType;
  /** `general.file_type` of the output (llama.cpp's llama_ftype number). */
  ftype: number;
  pure: boolean;
  model: ModelFacts;
  /** In llama-quantize's order: non-layer tensors first, then by layer number, then by name. */
  tensors: PlannedTensor[];
  /** Tensors whose rule type did not fit their row length. */
  nFallback: number;
  sourceBytes: number;
  targetBytes: number;
}

const layerNumber = (name: string): number => {
  const m = /^blk\.(\d+)\./.exec(name);
  return m ? Number(m[1]) : -1;
};

/** llama.cpp's tensor order (the weight map's comparator): layer number (none = -1) first, then name bytes. */
export function compareTensorNames(a: string, b: string): number {
  const la = layerNumber(a);
  const lb = layerNumber(b);
  if (la !== lb) return la - lb;
  return a < b ? -1 : a > b ? 1 : 0;
}

function elementCount(shape: readonly number[]): number {
  return shape.reduce((p, d) => p * d, 1);
}

function byteSize(type: number, shape: readonly number[]): number {
  const ne0 = shape[0] ?? 1;
  return rowBytes(type, ne0) * (elementCount(shape) / ne0);
}

/** Plans every tensor given the model facts. Pure function of names, shapes, types and facts. */
export function planTensors(
  model: ModelFacts,
  tensors: readonly PlanTensorInput[],
  opts: PlanOptions,
): QuantPlan {
  // Accept the names in any case ('q4_k_m'), as llama-quantize does.
  const requested = String(opts.type).toUpperCase();
  if (!isPlanFileType(requested)) {
    throw new QuantizeError(
      'UNKNOWN_FILE_TYPE',
      `unknown quantization type "${String(opts.type)}"; use one of ${Object.keys(LLAMA_FTYPE).join(', ')}`,
    );
  }
  const ftype = requested;
  const def = DEFAULT_TYPE[ftype];
  const pure = opts.pure ?? false;
  const ordered = [...tensors].sort((a, b) => compareTensorNames(a.name, b.name));

  const state: RuleState = {
    nAttnV: 0,
    iAttnV: 0,
    nFfnDown: model.nLayer,
    iFfnDown: 0,
    nFfnGate: model.nLayer,
    iFfnGate: 0,
    nFfnUp: model.nLayer,
    iFfnUp: 0,
    tiedEmbeddings: true,
  };
  for (const t of ordered) {
    const cat = tensorCategory(t.name);
    if (cat === 'attn_v' || cat === 'attn_qkv' || cat === 'attn_kv_b') state.nAttnV++;
    if (cat === 'output') state.tiedEmbeddings = false;
  }

  let nFallback = 0;
  const planned: PlannedTensor[] = ordered.map((t) => {
    const shape = [...t.shape];
    const ne0 = shape[0] ?? 1;
    if (!isKnownType(t.type)) {
      throw new QuantizeError(
        'UNSUPPORTED_SOURCE_TYPE',
        `tensor ${t.name} is stored as ggml type ${t.type}, which this quantizer cannot read; convert the model to F32/F16/BF16 first`,
        { tensor: t.name },
      );
    }
    let target = t.type;
    let reason: string;
    let fallbackFrom: number | undefined;
    const keep = keepReason(t.name, shape, { quantizeOutput: !opts.leaveOutputTensor });
    if (keep !== undefined) {
      reason = keep;
    } else if (!isQuantizedType(def)) {
      target = def;
      reason = `${ftype}: every 2-D weight is ${typeName(def)}`;
    } else {
      let choice = { type: def, reason: `--pure: every 2-D weight is ${typeName(def)}` };
      if (!pure) {
        try {
          choice = mixChoice(state, model, ftype, def, t.name, ne0, tensorCategory(t.name));
        } catch (e) {
          throw new QuantizeError(
            'BAD_MODEL_METADATA',
            `${(e as Error).message}; check ${model.arch}.block_count`,
            { tensor: t.name },
          );
        }
      }
      target = choice.type;
      reason = choice.reason;
      const fb = blockFallback(target, ne0);
      if (fb) {
        nFallback++;
        fallbackFrom = target;
        target = fb.type;
        reason = `${reason}; ${fb.reason}`;
      }
    }
    const p: PlannedTensor = {
      name: t.name,
      shape,
      sourceType: t.type,
      sourceTypeName: typeName(t.type),
      targetType: target,
      targetTypeName: typeName(target),
      convert: target !== t.type,
      reason,
      sourceBytes: byteSize(t.type, shape),
      targetBytes: byteSize(target, shape),
    };
    if (fallbackFrom !== undefined) p.fallbackFrom = fallbackFrom;
    return p;
  });

  return {
    fileType: ftype,
    ftype: LLAMA_FTYPE[ftype],
    pure,
    model,
    tensors: planned,
    nFallback,
    sourceBytes: planned.reduce((s, p) => s + p.sourceBytes, 0),
    targetBytes: planned.reduce((s, p) => s + p.targetBytes, 0),
  };
}

/** One line per tensor, as `--dry-run` prints the plan. */
export function formatPlan(plan: QuantPlan): string {
  const w = Math.max(...plan.tensors.map((t) => t.name.length), 10);
  const lines = plan.tensors.map(
    (t) =>
      `${t.name.padEnd(w)}  [${t.shape.join(', ')}]  ${t.sourceTypeName.padEnd(5)} -> ${t.targetTypeName.padEnd(5)}  ${t.reason}`,
  );
  const mib = (b: number) => (b / 1048576).toFixed(2);
  lines.push(
    `${plan.fileType}${plan.pure ? ' (pure)' : ''}: ${mib(plan.sourceBytes)} MiB -> ${mib(plan.targetBytes)} MiB` +
      (plan.nFallback ? `, ${plan.nFallback} tensor(s) needed a fallback type` : ''),
  );
  return lines.join('\n');
}

/** What planQuantization needs from a parsed GGUF file (a @quant/gguf GGUFFile fits). */
export interface PlanSourceFile {
  metadata: Readonly<Record<string, unknown>>;
  tensors: readonly PlanTensorInput[];
  source?: string | undefined;
}

/** Plans the quantization of a parsed GGUF file: tensor → target type, with the reason. */
export function planQuantization(file: PlanSourceFile, options: PlanOptions): QuantPlan {
  return planTensors(modelFacts(file.metadata, file.source), file.tensors, options);
}
