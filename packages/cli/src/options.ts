/** Value parsers for commander options: each throws InvalidArgumentError with what was expected. */
import { InvalidArgumentError } from 'commander';

export function parseInteger(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^[+-]?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(
        `expected an integer${max === Number.MAX_SAFE_INTEGER ? ` ≥ ${min}` : ` in [${min}, ${max}]`}, got "${value}".`,
      );
    }
    return n;
  };
}

export function parseNumber(min = Number.NEGATIVE_INFINITY, max = Number.POSITIVE_INFINITY) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
      const range =
        Number.isFinite(min) && Number.isFinite(max)
          ? ` in [${min}, ${max}]`
          : Number.isFinite(min)
            ? ` ≥ ${min}`
            : '';
      throw new InvalidArgumentError(`expected a number${range}, got "${value}".`);
    }
    return n;
  };
}

export function parseBackend(value: string): 'native' | 'wasm' {
  if (value !== 'native' && value !== 'wasm')
    throw new InvalidArgumentError(`expected "native" or "wasm", got "${value}".`);
  return value;
}

/** For repeatable options (`--stop a --stop b`). */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** Reads all of stdin as UTF-8. */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** KV cache types, as llama.cpp's --cache-type-k/-v spell them, and quant's rotated iq4_nlr. */
export const CACHE_TYPES = [
  'f32',
  'f16',
  'bf16',
  'q8_0',
  'q4_0',
  'q4_1',
  'q5_0',
  'q5_1',
  'iq4_nl',
  'iq4_nlr',
] as const;
export type CacheType = (typeof CACHE_TYPES)[number];

/** --cache-type-k / --cache-type-v values. */
export function parseCacheType(value: string): CacheType {
  const v = value.toLowerCase();
  if (!(CACHE_TYPES as readonly string[]).includes(v))
    throw new InvalidArgumentError(`expected one of ${CACHE_TYPES.join(', ')}, got "${value}".`);
  return v as CacheType;
}

/** llama.cpp's multi-letter short flags (-ctk, -ctv), which commander cannot declare, as their long forms. */
export function expandLlamaShortFlags(argv: readonly string[]): string[] {
  const alias: Record<string, string> = { '-ctk': '--cache-type-k', '-ctv': '--cache-type-v' };
  return argv.map((a, i) => {
    if (i < 2) return a;
    const eq = a.indexOf('=');
    const flag = eq >= 0 ? a.slice(0, eq) : a;
    const long = alias[flag];
    return long ? long + (eq >= 0 ? a.slice(eq) : '') : a;
  });
}
