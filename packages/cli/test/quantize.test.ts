import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseGGUF } from '@quant/gguf';
import { getLlama } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../src/exit-codes';
import { sharedModels, TempDir } from './helpers/fixtures';
import { quant } from './helpers/quant';

let tmp: TempDir;
let f32: string;
beforeAll(async () => {
  tmp = new TempDir();
  // Rows of 256 so the K-quants apply; an FFN of 320 falls back (not a multiple of 256).
  f32 = await tmp.model('f32.gguf', { nEmbd: 256, nLayers: 2, nHeads: 8, nKvHeads: 4, nFF: 320, seed: 3 });
});
afterAll(() => tmp?.remove());

interface PlanJSON {
  tensors: { name: string; targetTypeName: string; reason: string }[];
}

const pairs = [
  ['stories260K-llama-pad256-f32.gguf', 'stories260K-llama-pad256-q4_k_m.gguf', 'Q4_K_M'],
  ['stories260K-llama-pad256-f32.gguf', 'stories260K-llama-pad256-q5_k_m.gguf', 'Q5_K_M'],
  ['stories260K-llama-pad256-f32.gguf', 'stories260K-llama-pad256-q6_k.gguf', 'Q6_K'],
  ['stories260K-phi3-pad256-f32.gguf', 'stories260K-phi3-pad256-q4_k_m.gguf', 'Q4_K_M'],
] as const;

describe('quant quantize --dry-run: the plan equals llama-quantize’s', () => {
  for (const [src, ref, type] of pairs) {
    const have = existsSync(join(sharedModels, src)) && existsSync(join(sharedModels, ref));
    it.skipIf(!have)(`${src} ${type} → the types in ${ref}`, async () => {
      const r = await quant([
        'quantize',
        join(sharedModels, src),
        tmp.file('unused.gguf'),
        type.toLowerCase(),
        '--dry-run',
        '--json',
      ]);
      expect(r.code, r.stderr).toBe(0);
      const plan = JSON.parse(r.stdout) as PlanJSON;
      const made = await parseGGUF(join(sharedModels, ref));
      const want = Object.fromEntries(made.tensors.map((t) => [t.name, t.typeName]));
      await made.close();
      expect(Object.fromEntries(plan.tensors.map((t) => [t.name, t.targetTypeName]))).toEqual(want);
      expect(existsSync(tmp.file('unused.gguf'))).toBe(false);
    });
  }

  it('prints one line per tensor with its type and reason', async () => {
    const r = await quant(['quantize', f32, tmp.file('unused.gguf'), 'Q4_K_M', '--dry-run']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^blk\.0\.ffn_down\.weight\s+\[320, 256\]\s+F32\s+-> \S+/m);
    expect(r.stdout).toMatch(/^token_embd\.weight\s+\[256, \d+\]\s+F32\s+-> Q4_K/m);
    expect(r.stdout).toMatch(/Q4_K_M: [\d.]+ MiB -> [\d.]+ MiB/);
  });

  it('--pure uses one type for every 2-D weight', async () => {
    const r = await quant([
      'quantize',
      f32,
      tmp.file('unused.gguf'),
      'Q6_K',
      '--dry-run',
      '--pure',
      '--json',
    ]);
    const plan = JSON.parse(r.stdout) as PlanJSON;
    const matrices = plan.tensors.filter((t) => !t.name.endsWith('norm.weight'));
    const types = new Set(matrices.filter((t) => !t.name.includes('ffn_down')).map((t) => t.targetTypeName));
    expect([...types]).toEqual(['Q6_K']);
  });
});

describe('quant quantize writes a model llama.cpp and quant run', () => {
  for (const type of ['Q8_0', 'Q4_K_M'] as const) {
    it(`${type}`, async () => {
      const out = tmp.file(`out-${type}.gguf`);
      const r = await quant(['quantize', f32, out, type, '--threads', '2']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`-> .*out-${type}\\.gguf: ${type}, 21 tensors`));
      const plan = JSON.parse(
        (await quant(['quantize', f32, tmp.file('x.gguf'), type, '--dry-run', '--json'])).stdout,
      ) as PlanJSON;
      const g = await parseGGUF(out);
      expect(g.metadata['general.file_type']).toBe(type === 'Q8_0' ? 7 : 15);
      expect(Object.fromEntries(g.tensors.map((t) => [t.name, t.typeName]))).toEqual(
        Object.fromEntries(plan.tensors.map((t) => [t.name, t.targetTypeName])),
      );
      await g.close();

      const run = await quant(['run', out, 'once upon a time', '-n', '6', '--temp', '0', '-q']);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout.length).toBeGreaterThan(1);

      const llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' } as never);
      const model = await llama.loadModel({ modelPath: out });
      const ctx = await model.createContext({ contextSize: 64, threads: 1 });
      const res = await ctx
        .getSequence()
        .controlledEvaluate([1, [5, { generateNext: { logits: true } }]] as never);
      const logits = (res.at(-1) as { next: { logits: Map<number, number> } }).next.logits;
      expect([...logits.values()].every(Number.isFinite)).toBe(true);
      await ctx.dispose();
      await model.dispose();
    });
  }

  it('refuses to requantize a quantized model (exit 5) and types it cannot write (exit 2)', async () => {
    const q8 = tmp.file('q8.gguf');
    expect((await quant(['quantize', f32, q8, 'Q8_0', '-q'])).code).toBe(0);
    const r = await quant(['quantize', q8, tmp.file('q4.gguf'), 'Q4_0']);
    expect(r.code).toBe(EXIT.UNSUPPORTED);
    expect(r.stderr).toMatch(/^quant: error: .*already Q8_0/m);
    const q51 = await quant(['quantize', f32, tmp.file('q51.gguf'), 'Q5_1']);
    expect(q51.code).toBe(EXIT.USAGE);
    expect(q51.stderr).toMatch(/only be planned, with --dry-run/);
    expect((await quant(['quantize', f32, tmp.file('q51.gguf'), 'Q5_1', '--dry-run'])).code).toBe(0);
  });
});
