/**
 * The alias registry: model names users type (`phi3.5`, `llama3.2:1b`) and the `hf:owner/repo:QUANT`
 * reference each stands for. The built-in registry is ./registry.json; more registry files (same
 * format) can be added with the `registry` option or the QUANT_MODEL_REGISTRY environment variable
 * (several paths separated by the platform's path delimiter); their entries win over built-in ones.
 */
import { readFileSync } from 'node:fs';
import { delimiter } from 'node:path';
import { HubError } from './errors.js';
import builtin from './registry.json' with { type: 'json' };

export interface RegistryEntry {
  /** The canonical name (also accepted as an alias). */
  name: string;
  /** More names for the same model. */
  aliases?: string[];
  /** An `hf:owner/repo:QUANT` or `hf:owner/repo/file.gguf` reference. */
  ref: string;
  /** `general.architecture` of the model (informative). */
  architecture?: string;
  /** Approximate download size, for humans ("2.4 GB"). */
  sizeHint?: string;
  description?: string;
}

export interface RegistryFile {
  description?: string;
  models: RegistryEntry[];
}

export type RegistrySource = string | RegistryFile | readonly (string | RegistryFile)[];

const normalise = (name: string) => name.trim().toLowerCase();

function validate(data: unknown, where: string): RegistryFile {
  const models = (data as { models?: unknown })?.models;
  if (!Array.isArray(models))
    throw new HubError(
      'INVALID_REGISTRY',
      `${where}: a registry file is a JSON object with a "models" array.`,
    );
  for (const [i, m] of models.entries()) {
    const e = m as Partial<RegistryEntry>;
    if (typeof e?.name !== 'string' || typeof e.ref !== 'string' || !e.ref.startsWith('hf:'))
      throw new HubError(
        'INVALID_REGISTRY',
        `${where}: models[${i}] needs a "name" string and a "ref" string starting with "hf:".`,
      );
    if (
      e.aliases !== undefined &&
      !(Array.isArray(e.aliases) && e.aliases.every((a) => typeof a === 'string'))
    )
      throw new HubError('INVALID_REGISTRY', `${where}: models[${i}].aliases must be an array of strings.`);
  }
  return data as RegistryFile;
}

function readRegistryFile(path: string): RegistryFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new HubError(
      'INVALID_REGISTRY',
      `cannot read the model registry ${path}: ${(e as Error).message}. Fix QUANT_MODEL_REGISTRY or the registry option.`,
      { cause: e },
    );
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new HubError('INVALID_REGISTRY', `${path} is not valid JSON: ${(e as Error).message}`, {
      cause: e,
    });
  }
  return validate(data, path);
}

/** The built-in registry shipped with the package. */
export const BUILTIN_REGISTRY: RegistryFile = validate(builtin, '@quant/hub registry.json');

/** A registry: every entry by each of its names (lower-cased). */
export class ModelRegistry {
  readonly entries: readonly RegistryEntry[];
  private readonly byName = new Map<string, RegistryEntry>();

  constructor(files: readonly RegistryFile[]) {
    const entries: RegistryEntry[] = [];
    for (const file of files) {
      for (const e of file.models) {
        entries.push(e);
        for (const n of [e.name, ...(e.aliases ?? [])]) this.byName.set(normalise(n), e);
      }
    }
    // Later files win, so list each entry once, as the names now map.
    const live = new Set(this.byName.values());
    this.entries = entries.filter((e) => live.has(e));
  }

  /** The entry a name stands for (case-insensitive), or undefined. */
  lookup(name: string): RegistryEntry | undefined {
    return this.byName.get(normalise(name));
  }

  /** Every name of the registry, sorted. */
  names(): string[] {
    return [...this.byName.keys()].sort();
  }

  /** The names (canonical and aliases) of entries whose reference is `ref` (exact string match). */
  namesFor(ref: string): string[] {
    return this.entries.filter((e) => e.ref === ref).flatMap((e) => [e.name, ...(e.aliases ?? [])]);
  }
}

/**
 * The registry in force: the built-in one, then `source` (paths or objects), then the files named by
 * QUANT_MODEL_REGISTRY in `env`.
 */
export function loadRegistry(source?: RegistrySource, env: NodeJS.ProcessEnv = process.env): ModelRegistry {
  const files: RegistryFile[] = [BUILTIN_REGISTRY];
  const extra = source === undefined ? [] : Array.isArray(source) ? source : [source];
  for (const s of extra as (string | RegistryFile)[])
    files.push(typeof s === 'string' ? readRegistryFile(s) : validate(s, 'registry option'));
  for (const p of (env.QUANT_MODEL_REGISTRY ?? '').split(delimiter))
    if (p.trim() !== '') files.push(readRegistryFile(p.trim()));
  return new ModelRegistry(files);
}
