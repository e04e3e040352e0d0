/**
 * `--cache-type-k/-ctk`, `--cache-type-v/-ctv` and `--prompt-cache` on the built bin: quantized
 * caches run, bad types are usage errors, a too-large context names the quantized types that fit,
 * and a prompt cache is written, reused (the same greedy text) and rewritten when unusable.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TempDir } from './helpers/fixtures';
import { quant } from './helpers/quant';

let tmp: TempDir;
let model: string;
beforeAll(async () => {
  tmp = new TempDir();
  // head size 64: every block type fits
  model = await tmp.model('kv.gguf', { nEmbd: 128, nLayers: 2, nHeads: 2, nKvHeads: 1, nFF: 256, seed: 9 });
});
afterAll(() => tmp?.remove());

describe('quant run with KV cache types and a prompt cache', () => {
  it('-ctk q4_0 -ctv q8_0 and the long forms run; an unknown type is a usage error naming the types', async () => {
    const a = await quant([
      'run',
      model,
      'hello world',
      '--temp',
      '0',
      '-n',
      '8',
      '-ctk',
      'q4_0',
      '-ctv',
      'q8_0',
    ]);
    expect(a.code).toBe(0);
    const b = await quant([
      'run',
      model,
      'hello world',
      '--temp',
      '0',
      '-n',
      '8',
      '--cache-type-k=q4_0',
      '--cache-type-v',
      'q8_0',
    ]);
    expect(b.code).toBe(0);
    expect(b.stdout).toBe(a.stdout);
    const bad = await quant(['run', model, 'x', '-ctk', 'q3_k']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(
      /expected one of f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, iq4_nl, iq4_nlr, got "q3_k"/,
    );
  });

  it('--prompt-cache: the first run writes the file, the second reuses it with the same greedy text', async () => {
    const file = tmp.file('prompt.qsession');
    const args = [
      'run',
      model,
      'the quick brown fox jumps over',
      '--temp',
      '0',
      '-n',
      '12',
      '-ctk',
      'q8_0',
      '--prompt-cache',
      file,
    ];
    const first = await quant(args);
    expect(first.code).toBe(0);
    expect(existsSync(file)).toBe(true);
    expect(first.stderr).toMatch(/prompt cache: saved \d+ tokens/);
    const second = await quant(args);
    expect(second.code).toBe(0);
    expect(second.stderr).toMatch(/prompt cache: \d+ tokens from /);
    expect(second.stdout).toBe(first.stdout);
    // a damaged file is reported and rewritten, not fatal
    writeFileSync(file, 'QUANTSES garbage');
    const third = await quant(args);
    expect(third.code).toBe(0);
    expect(third.stderr).toMatch(/prompt cache not used: .*; it will be rewritten/);
    expect(third.stdout).toBe(first.stdout);
  });
});
