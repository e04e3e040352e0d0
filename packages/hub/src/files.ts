/**
 * File names in a model repository: quantization tags (`…-Q4_K_M.gguf`), split sets
 * (`…-00001-of-00003.gguf`) and the choice of the file a `:QUANT` reference means.
 */

/** `name-00001-of-00003.gguf`, as llama.cpp's gguf-split names the parts. */
const SPLIT_RE = /^(.*)-(\d{5})-of-(\d{5})\.gguf$/i;

/** The quantization tags llama.cpp's tools write into file names (F16, Q4_K_M, IQ4_XS, q4, Q4_0_4_4…). */
const TAG_RE = /^(?:I?Q\d+(?:_[A-Z0-9]+)*|BF16|F16|F32|F64|FP16|FP32|TQ\d_\d|MXFP4(?:_[A-Z0-9]+)*)$/i;

export interface SplitInfo {
  /** The name without the `-0000i-of-0000n.gguf` suffix. */
  base: string;
  /** 1-based part number. */
  index: number;
  count: number;
}

const baseName = (path: string): string => path.slice(path.lastIndexOf('/') + 1);

/** The split part a path names, or undefined for a single-file GGUF. */
export function splitInfo(path: string): SplitInfo | undefined {
  const m = SPLIT_RE.exec(baseName(path));
  if (!m) return undefined;
  const index = Number(m[2]);
  const count = Number(m[3]);
  if (index < 1 || count < 1 || index > count) return undefined;
  return { base: m[1]!, index, count };
}

/** The path of part `index` of the split set `path` belongs to. */
export function splitPartPath(path: string, index: number, count: number): string {
  const dir = path.slice(0, path.lastIndexOf('/') + 1);
  const info = splitInfo(path);
  if (!info) throw new Error(`${path} is not a split GGUF part`);
  const pad = (n: number) => String(n).padStart(5, '0');
  return `${dir}${info.base}-${pad(index)}-of-${pad(count)}.gguf`;
}

/** Is this a model GGUF (not a vision projector `mmproj-*.gguf`)? */
export function isModelGGUF(path: string): boolean {
  const name = baseName(path).toLowerCase();
  return name.endsWith('.gguf') && !name.startsWith('mmproj');
}

/**
 * The quantization tag in a GGUF file name, as written (`Q4_K_M` in `Phi-3.5-mini-instruct-Q4_K_M.gguf`,
 * `q4_k_m` in `smollm2-1.7b-instruct-q4_k_m.gguf`, `Q8_0` in `x-Q8_0-00001-of-00002.gguf`): the last
 * `-`/`.`-separated part of the name when it is a known tag shape.
 */
export function quantTag(path: string): string | undefined {
  let name = baseName(path);
  const split = splitInfo(name);
  if (split) name = split.base;
  else if (name.toLowerCase().endsWith('.gguf')) name = name.slice(0, -5);
  else return undefined;
  const parts = name.split(/[-.]/);
  const last = parts[parts.length - 1] ?? '';
  return TAG_RE.test(last) ? last : undefined;
}

/** Tags compare case-insensitively (`q4_k_m` = `Q4_K_M`). */
export const sameTag = (a: string, b: string): boolean => a.toUpperCase() === b.toUpperCase();

/** One downloadable model: a single GGUF, or every part of a split set (in order). */
export interface ModelFileSet {
  /** The first (or only) file's path in the repository. */
  path: string;
  /** Every file of the set, part 1 first. */
  parts: string[];
  /** Parts the listing lacks (an incomplete upload), by expected path. */
  missing: string[];
  tag: string | undefined;
}

/** Groups the model GGUFs of a listing into single files and split sets. */
export function modelFileSets(paths: readonly string[]): ModelFileSet[] {
  const present = new Set(paths);
  const sets = new Map<string, ModelFileSet>();
  for (const p of paths) {
    if (!isModelGGUF(p)) continue;
    const split = splitInfo(p);
    if (!split) {
      sets.set(p, { path: p, parts: [p], missing: [], tag: quantTag(p) });
      continue;
    }
    const first = splitPartPath(p, 1, split.count);
    if (sets.has(first)) continue;
    const parts: string[] = [];
    const missing: string[] = [];
    for (let i = 1; i <= split.count; i++) {
      const part = splitPartPath(p, i, split.count);
      (present.has(part) ? parts : missing).push(part);
    }
    sets.set(first, { path: first, parts, missing, tag: quantTag(p) });
  }
  return [...sets.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** The distinct tags of a listing's model files, upper-cased and sorted. */
export function availableTags(sets: readonly ModelFileSet[]): string[] {
  return [...new Set(sets.flatMap((s) => (s.tag ? [s.tag.toUpperCase()] : [])))].sort();
}

/** The sets whose tag is `tag`. */
export function setsWithTag(sets: readonly ModelFileSet[], tag: string): ModelFileSet[] {
  return sets.filter((s) => s.tag !== undefined && sameTag(s.tag, tag));
}
