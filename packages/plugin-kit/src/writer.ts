/**
 * Synthetic GGUF models for plugin tests, driven by the plugin's own `TensorSpec` list: every
 * tensor the plugin asks for is written with its expected shape and seeded random values, so a new
 * architecture gets test models without a hand-written writer.
 */
import { type GGUFWriteValue, writeGGUF } from '@quant/gguf';
import {
  type ArchitecturePlugin,
  type BaseHyperparameters,
  MetadataReader,
  type ModelDescription,
  PluginError,
  type TensorDirectory,
  type TensorShape,
  type TensorSpec,
} from '@quant/plugin-api';
import { type SpmVocab, spmVocabMetadata, syntheticVocab } from './vocab.js';

/** ggml type ids of the types a synthetic matrix can be written in. */
export const WEIGHT_TYPES = { F32: 0, F16: 1, Q4_0: 2, Q8_0: 8, Q4_K: 12, Q5_K: 13, Q6_K: 14 } as const;
export type WeightTypeName = keyof typeof WEIGHT_TYPES;

/** Quantizes `rows × cols` floats to ggml `type` (e.g. `kernels.quantize` of @quant/kernels). */
export type Quantizer = (type: number, src: Float32Array, rows: number, cols: number) => Uint8Array;

/** Uniform floats in [-a, a) from mulberry32 (same seed → same bytes on every machine). */
export function seededUniform(seed: number): (a: number) => number {
  let s = seed >>> 0;
  return (a) => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1) * a;
  };
}

export interface SyntheticModelOptions {
  /** `general.architecture`; `hparams` keys are written under this prefix. */
  architecture: string;
  /**
   * Architecture keys without the prefix, e.g. `{ block_count: 2, embedding_length: 64,
   * 'rope.freq_base': 10000 }`. Well-known keys get llama.cpp's types (`rope.freq_base` f32, counts
   * u32…); give others as `{ type: 'f32', value }` (@quant/gguf's `typed` form).
   */
  hparams: Record<string, GGUFWriteValue>;
  /** More metadata, full keys (e.g. `tokenizer.*` of another vocabulary, `tokenizer.chat_template`). */
  metadata?: Record<string, GGUFWriteValue>;
  /** The vocabulary (default: the kit's tiny SentencePiece vocabulary, which llama.cpp loads). Ignored if `metadata` has `tokenizer.ggml.tokens`. */
  vocab?: SpmVocab;
  /**
   * The tensors to write: the plugin (its `readHyperparameters` on these keys, then its `tensors`),
   * or a spec list.
   */
  plugin?: Pick<ArchitecturePlugin, 'readHyperparameters' | 'tensors'>;
  specs?: readonly TensorSpec[];
  /**
   * Which optional specs to write: true = all, a RegExp or predicate on the spec. Default: none of a
   * plugin's optional specs; every one of an explicit `specs` list.
   */
  optional?: boolean | RegExp | ((spec: TensorSpec) => boolean);
  /** Seed of the random values (default 1). */
  seed?: number;
  /** Type of every `matrix` tensor (default F32), or per tensor. Other than F32/F16 needs `quantize`. */
  weightType?: WeightTypeName | ((spec: TensorSpec) => WeightTypeName);
  quantize?: Quantizer;
  /**
   * Values for a tensor (length = product of its shape), or undefined for the defaults: `matrix`
   * uniform in ±√(3/cols) (token embeddings ±1), norm weights 1 ± 0.2, biases and other vectors
   * ±0.5, `host` tables 1 … 8 (e.g. rope frequency factors).
   */
  values?: (spec: TensorSpec, uniform: (a: number) => number) => Float32Array | undefined;
}

export interface SyntheticModel {
  /** The specs written (required ones and the optional ones selected). */
  specs: TensorSpec[];
  /** The float values of every tensor (before quantization), by name: for reference computations. */
  values: Map<string, Float32Array>;
  /** The metadata written. */
  metadata: Record<string, GGUFWriteValue>;
}

const count = (shape: TensorShape) => shape.reduce((a, b) => a * b, 1);

/** `{ type, value }` → value, for reading back what will be written. */
function plain(v: GGUFWriteValue): unknown {
  return v !== null && typeof v === 'object' && 'type' in v && 'value' in v
    ? (v as { value: unknown }).value
    : v;
}

function directory(shapes: Map<string, TensorShape>, padNames: number): TensorDirectory {
  // Before the first pass the plugin sees only the token embedding; names() is padded so checks
  // like "block_count fits the number of tensors" hold while the real list is not known yet.
  const names = [...shapes.keys()];
  for (let i = 0; i < padNames; i++) names.push(`__synthetic_placeholder_${i}`);
  return {
    has: (n) => shapes.has(n),
    shape: (n) => shapes.get(n),
    type: (n) => (shapes.has(n) ? 0 : undefined),
    names: () => names,
  };
}

function selected(spec: TensorSpec, optional: SyntheticModelOptions['optional']): boolean {
  if (!spec.optional) return true;
  if (optional === true) return true;
  if (optional instanceof RegExp) return optional.test(spec.name);
  if (typeof optional === 'function') return optional(spec);
  return false;
}

/**
 * The specs `plugin` asks for on a file with these keys: `readHyperparameters` then `tensors`, run
 * twice (the second time with the first pass's tensors present, for plugins that choose a layout by
 * which tensors exist).
 */
export function specsFromPlugin(
  plugin: Pick<ArchitecturePlugin, 'readHyperparameters' | 'tensors'>,
  architecture: string,
  metadata: Record<string, GGUFWriteValue>,
  optional: SyntheticModelOptions['optional'] = false,
): TensorSpec[] {
  const entries = new Map(Object.entries(metadata).map(([k, v]) => [k, plain(v)] as const));
  const meta = new MetadataReader(architecture, entries, `synthetic ${architecture} model`);
  const nEmbd = Number(entries.get(`${architecture}.embedding_length`) ?? 0);
  const nVocab = (entries.get('tokenizer.ggml.tokens') as unknown[] | undefined)?.length ?? 0;
  const nLayers = Number(entries.get(`${architecture}.block_count`) ?? 0);
  let shapes = new Map<string, TensorShape>([['token_embd.weight', [nEmbd, nVocab]]]);
  let specs: TensorSpec[] = [];
  for (let pass = 0; pass < 2; pass++) {
    const model: ModelDescription = {
      meta,
      tensors: directory(shapes, pass === 0 ? 64 * Math.max(nLayers, 1) : 0),
      architecture,
    };
    const h = plugin.readHyperparameters(model) as BaseHyperparameters;
    specs = plugin.tensors(h, model).filter((s) => selected(s, optional));
    shapes = new Map(specs.map((s) => [s.name, s.shape]));
  }
  return specs;
}

function defaultValues(spec: TensorSpec, u: (a: number) => number): Float32Array {
  const v = new Float32Array(count(spec.shape));
  if (spec.role === 'host') {
    for (let i = 0; i < v.length; i++) v[i] = 1 + (i / v.length) * 7;
    return v;
  }
  if (spec.role === 'matrix') {
    const scale = spec.name === 'token_embd.weight' ? 1 : Math.sqrt(3 / (spec.shape[0] ?? 1));
    for (let i = 0; i < v.length; i++) v[i] = u(scale);
    return v;
  }
  const norm = /norm\.weight$/.test(spec.name);
  for (let i = 0; i < v.length; i++) v[i] = (norm ? 1 : 0) + u(norm ? 0.2 : 0.5);
  return v;
}

/** Writes a random-weight GGUF of `o.architecture` with every tensor the plugin (or spec list) needs. */
export async function writeSyntheticModel(path: string, o: SyntheticModelOptions): Promise<SyntheticModel> {
  const arch = o.architecture;
  const metadata: Record<string, GGUFWriteValue> = {
    'general.architecture': arch,
    'general.name': `synthetic-${arch}`,
  };
  for (const [k, v] of Object.entries(o.hparams)) metadata[`${arch}.${k}`] = v;
  if (!o.metadata?.['tokenizer.ggml.tokens'])
    Object.assign(metadata, spmVocabMetadata(o.vocab ?? syntheticVocab()) as Record<string, GGUFWriteValue>);
  Object.assign(metadata, o.metadata ?? {});

  let specs: TensorSpec[];
  if (o.specs) specs = o.specs.filter((s) => o.optional === undefined || selected(s, o.optional));
  else if (o.plugin) specs = specsFromPlugin(o.plugin, arch, metadata, o.optional);
  else
    throw new PluginError(
      'INVALID_PLUGIN',
      'writeSyntheticModel: pass `plugin` or `specs` (the tensors to write).',
    );

  const u = seededUniform(o.seed ?? 1);
  const values = new Map<string, Float32Array>();
  const tensors: { name: string; type: number; shape: number[]; data: Uint8Array }[] = [];
  for (const spec of specs) {
    const v = o.values?.(spec, u) ?? defaultValues(spec, u);
    if (v.length !== count(spec.shape))
      throw new PluginError(
        'INVALID_PLUGIN',
        `writeSyntheticModel: values for "${spec.name}" have ${v.length} elements, its shape [${spec.shape.join(', ')}] needs ${count(spec.shape)}.`,
      );
    values.set(spec.name, v);
    const shape = [...spec.shape];
    const typeName =
      spec.role === 'matrix'
        ? typeof o.weightType === 'function'
          ? o.weightType(spec)
          : (o.weightType ?? 'F32')
        : 'F32';
    const type = WEIGHT_TYPES[typeName];
    if (type === 0) tensors.push({ name: spec.name, type, shape, data: new Uint8Array(v.buffer) });
    else if (type === 1) tensors.push({ name: spec.name, type, shape, data: toF16(v) });
    else {
      if (!o.quantize)
        throw new PluginError(
          'INVALID_PLUGIN',
          `writeSyntheticModel: weight type ${typeName} of "${spec.name}" needs a quantizer (pass quantize: kernels.quantize).`,
        );
      const cols = shape[0] ?? 1;
      tensors.push({ name: spec.name, type, shape, data: o.quantize(type, v, v.length / cols, cols) });
    }
  }
  await writeGGUF(path, { metadata, tensors });
  return { specs, values, metadata };
}

/** f32 → IEEE binary16 bytes, round to nearest even. */
function toF16(v: Float32Array): Uint8Array {
  const out = new Uint16Array(v.length);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let i = 0; i < v.length; i++) {
    f[0] = v[i] as number;
    const x = u[0] as number;
    const sign = (x >>> 16) & 0x8000;
    const ax = x & 0x7fffffff;
    let h: number;
    if (ax > 0x7f800000) h = sign | 0x7e00;
    else if (ax >= 0x477ff000) h = sign | 0x7c00;
    else if (ax < 0x38800000) {
      // subnormal half: round ax·2^24 (as a float value) to an integer, ties to even
      const val = f[0] < 0 ? -f[0] : (f[0] as number);
      const q = val * 2 ** 24;
      const fl = Math.floor(q);
      const d = q - fl;
      h = sign | (d > 0.5 || (d === 0.5 && fl % 2 === 1) ? fl + 1 : fl);
    } else {
      const m = ax + 0xfff + ((ax >>> 13) & 1) - 0x38000000;
      h = sign | (m >>> 13);
    }
    out[i] = h;
  }
  return new Uint8Array(out.buffer);
}
