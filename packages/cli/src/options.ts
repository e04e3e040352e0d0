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
