/**
 * Split GGUF sets, as llama.cpp's `llama-gguf-split` writes them: `name-00001-of-00003.gguf`, … Every
 * part is a GGUF file with `split.no` (0-based), `split.count` and, in the first part, all the model's
 * metadata and `split.tensors.count`; the tensors are spread over the parts.
 */
import { GGUFError } from './errors.js';
import { GGUFFile } from './gguf-file.js';
import { type GGUFSource, type ParseGGUFOptions, parseGGUF } from './parse.js';

/** `name-00001-of-00003.gguf` (a path or URL; a query string or fragment may follow). */
const SPLIT_RE = /^(.*)-(\d{5})-of-(\d{5})\.gguf((?:[?#].*)?)$/i;

/**
 * The paths or URLs of every part of the split set `nameOrUrl` names (`…-00002-of-00003.gguf` →
 * parts 1, 2 and 3), or undefined when the name does not follow the split naming.
 */
export function splitPartNames(nameOrUrl: string): string[] | undefined {
  const m = SPLIT_RE.exec(nameOrUrl);
  if (!m) return undefined;
  const count = Number(m[3]);
  const index = Number(m[2]);
  if (count < 1 || index < 1 || index > count) return undefined;
  const pad = (n: number) => String(n).padStart(5, '0');
  return Array.from({ length: count }, (_, i) => `${m[1]}-${pad(i + 1)}-of-${pad(count)}.gguf${m[4]}`);
}

function splitField(file: GGUFFile, key: string): number | undefined {
  if (!file.has(key)) return undefined;
  return file.getInt(key);
}

/**
 * Parses every part of a split GGUF set (any order) and returns one GGUFFile: the first part's
 * metadata and the tensors of all parts, each read from its own part. A single source that is not
 * a split part is parsed as usual. Throws GGUF_SPLIT_INVALID when parts are missing, repeated or
 * from different sets.
 */
export async function parseGGUFSplit(
  sources: readonly GGUFSource[],
  options: ParseGGUFOptions = {},
): Promise<GGUFFile> {
  if (sources.length === 0)
    throw new GGUFError(
      'GGUF_INVALID_ARGUMENT',
      'parseGGUFSplit needs at least one source (the parts of the set)',
    );
  const parsed: GGUFFile[] = [];
  try {
    // A few headers at a time: each is a small read (one HTTP request for most models).
    for (let i = 0; i < sources.length; i += 4) {
      const batch = await Promise.allSettled(sources.slice(i, i + 4).map((s) => parseGGUF(s, options)));
      for (const r of batch) if (r.status === 'fulfilled') parsed.push(r.value);
      const failed = batch.find((r) => r.status === 'rejected');
      if (failed) throw (failed as PromiseRejectedResult).reason;
    }
    return assemble(parsed);
  } catch (e) {
    await Promise.all(parsed.map((p) => p.close().catch(() => {})));
    throw e;
  }
}

/**
 * One GGUFFile from the parsed parts of a split set (any order; see parseGGUFSplit). A single file
 * that is not a split part is returned as it is. Throws GGUF_SPLIT_INVALID like parseGGUFSplit; the
 * parts are not closed on failure.
 */
export function assembleGGUFSplit(files: readonly GGUFFile[]): GGUFFile {
  if (files.length === 0)
    throw new GGUFError('GGUF_INVALID_ARGUMENT', 'assembleGGUFSplit needs at least one parsed part');
  return assemble(files);
}

function assemble(files: readonly GGUFFile[]): GGUFFile {
  const n = files.length;
  const name = (f: GGUFFile) => f.source ?? '<bytes>';
  if (n === 1 && splitField(files[0] as GGUFFile, 'split.count') === undefined) return files[0] as GGUFFile;
  const byNo: (GGUFFile | undefined)[] = new Array(n).fill(undefined);
  for (const f of files) {
    const count = splitField(f, 'split.count');
    const no = splitField(f, 'split.no');
    if (count === undefined || no === undefined) {
      throw new GGUFError(
        'GGUF_SPLIT_INVALID',
        `${name(f)} is not part of a split GGUF set (no split.count / split.no); pass only the parts of one set`,
        { file: f.source },
      );
    }
    if (count !== n) {
      throw new GGUFError(
        'GGUF_SPLIT_INVALID',
        `${name(f)} is part ${no + 1} of a ${count}-part split GGUF, but ${n} part${n === 1 ? ' was' : 's were'} given; pass all ${count} parts (…-00001-of-${String(count).padStart(5, '0')}.gguf and the rest)`,
        { file: f.source },
      );
    }
    if (no < 0 || no >= n || byNo[no] !== undefined) {
      throw new GGUFError(
        'GGUF_SPLIT_INVALID',
        `${name(f)} says it is part ${no + 1} of ${count}, ${byNo[no] !== undefined ? `as does ${name(byNo[no] as GGUFFile)}` : 'which is out of range'}; pass each part of the set once`,
        { file: f.source },
      );
    }
    byNo[no] = f;
  }
  const parts = byNo as GGUFFile[];
  const first = parts[0] as GGUFFile;
  const declared = splitField(first, 'split.tensors.count');
  const total = parts.reduce((a, p) => a + p.tensors.length, 0);
  if (declared !== undefined && declared !== total) {
    throw new GGUFError(
      'GGUF_SPLIT_INVALID',
      `the split set has ${total} tensors in its ${n} parts but ${name(first)} declares split.tensors.count = ${declared}; a part is from another set or damaged`,
      { file: first.source },
    );
  }
  return GGUFFile.fromParts(parts);
}
