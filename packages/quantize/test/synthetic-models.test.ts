// Synthetic F16 models of both layouts (llama: q/k/v; phi3: fused qkv and [gate|up]), quantized by
// us, loaded and run by llama.cpp (node-llama-cpp). Needs no ../shared.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseGGUF } from '@quant/gguf';
import { LLAMA_FTYPE, type QuantizeFileType, quantizeModel } from '@quant/quantize';
import { allFinite, meanKL, oracleLogitsMany } from '@quant/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVAL } from './helpers/shared.js';
import { type Arch, NARROW, SMALL, syntheticModel } from './helpers/synthetic.js';
import { writeSynthetic } from './helpers/write-synthetic.js';

const dir = mkdtempSync(join(tmpdir(), 'quant-synth-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// BOS, then byte and piece tokens of the synthetic vocab.
const SEQS = [
  [1, 259, 260, 261, 262, 270, 280, 290, 300, 310],
  [1, 72, 101, 108, 108, 111, 33, 300, 301],
  [1, 320, 310, 300, 265, 266],
];

/** Upper bounds on mean KL(F16 || quantized); measured values are 5–10x lower. */
const MAX_KL: Record<QuantizeFileType, number> = {
  Q8_0: 2e-3,
  Q6_K: 1e-2,
  Q5_K_M: 2e-2,
  Q5_K_S: 3e-2,
  Q4_K_M: 6e-2,
  Q4_K_S: 8e-2,
  Q4_0: 1e-1,
  Q3_K_L: 3e-1,
  Q3_K_M: 3e-1,
  Q3_K_S: 5e-1,
  Q2_K: 1,
};

for (const arch of ['llama', 'phi3'] as Arch[]) {
  describe(`synthetic ${arch} F16 model`, () => {
    const f16 = join(dir, `${arch}-f16.gguf`);
    let ref: Float32Array[][];
    const kls: Partial<Record<QuantizeFileType, number>> = {};

    beforeAll(async () => {
      await writeSynthetic(f16, syntheticModel(arch, SMALL));
      ref = await oracleLogitsMany(f16, SEQS, EVAL);
      expect(allFinite(ref)).toBe(true);
    });

    for (const type of Object.keys(MAX_KL) as QuantizeFileType[]) {
      it(`${type}: llama.cpp runs it, logits finite and close to the F16 model's`, async () => {
        const out = join(dir, `${arch}-${type}.gguf`);
        const r = await quantizeModel(f16, out, { type, threads: 2 });
        const logits = await oracleLogitsMany(out, SEQS, EVAL);
        expect(allFinite(logits)).toBe(true);
        const kl = meanKL(ref, logits);
        kls[type] = kl;
        expect(kl).toBeGreaterThan(0);
        expect(kl).toBeLessThan(MAX_KL[type]);

        // The file holds exactly the planned types and the quantization metadata.
        const f = await parseGGUF(out);
        const src = await parseGGUF(f16);
        expect(f.tensors.map((t) => [t.name, t.type])).toEqual(
          r.plan.tensors.map((t) => [t.name, t.targetType]),
        );
        expect(f.metadata['general.file_type']).toBe(LLAMA_FTYPE[type]);
        expect(f.metadata['general.quantization_version']).toBe(2);
        for (const e of src.entries) {
          if (e.key === 'general.file_type') continue;
          expect(f.metadata[e.key], e.key).toEqual(e.value);
          expect(f.metadataTypes[e.key], e.key).toEqual(e.type);
        }
        expect(r.outputBytes).toBe(f.fileSize);
        await f.close();
        await src.close();
      });
    }

    it('more bits, less divergence: Q8_0 < Q6_K < Q5_K_M < Q4_K_M < Q3_K_M < Q2_K', () => {
      expect(kls.Q8_0).toBeLessThan(kls.Q6_K as number);
      expect(kls.Q6_K).toBeLessThan(kls.Q5_K_M as number);
      expect(kls.Q5_K_M).toBeLessThan(kls.Q4_K_M as number);
      expect(kls.Q4_K_M).toBeLessThan(kls.Q3_K_M as number);
      expect(kls.Q3_K_M).toBeLessThan(kls.Q2_K as number);
    });

    it('control: a model with other random weights is far away (the KL check can fail)', async () => {
      const other = join(dir, `${arch}-other.gguf`);
      await writeSynthetic(other, syntheticModel(arch, SMALL, 987));
      expect(meanKL(ref, await oracleLogitsMany(other, SEQS, EVAL))).toBeGreaterThan(0.2);
    });

    it('--pure Q4_K_M puts every 2-D weight on Q4_K and still runs', async () => {
      const out = join(dir, `${arch}-pure.gguf`);
      await quantizeModel(f16, out, { type: 'Q4_K_M', pure: true, threads: 1 });
      const f = await parseGGUF(out);
      for (const t of f.tensors) expect(t.typeName, t.name).toBe(t.shape.length === 1 ? 'F32' : 'Q4_K');
      await f.close();
      expect(meanKL(ref, await oracleLogitsMany(out, SEQS, EVAL))).toBeLessThan(MAX_KL.Q4_K_S);
    });
  });
}

describe('rows that are not a multiple of 256 (64-wide model): fallback types run in llama.cpp', () => {
  for (const arch of ['llama', 'phi3'] as Arch[]) {
    it(`${arch}: Q4_K_M → Q5_0, Q5_K_M → Q5_1, Q6_K → Q8_0`, async () => {
      const f16 = join(dir, `${arch}-narrow-f16.gguf`);
      await writeSynthetic(f16, syntheticModel(arch, NARROW, 55));
      const ref = await oracleLogitsMany(f16, SEQS, EVAL);
      for (const [type, body, max] of [
        ['Q4_K_M', 'Q5_0', 6e-2],
        ['Q5_K_M', 'Q5_1', 3e-2],
        ['Q6_K', 'Q8_0', 5e-3],
      ] as const) {
        const out = join(dir, `${arch}-narrow-${type}.gguf`);
        const r = await quantizeModel(f16, out, { type, threads: 2 });
        expect(r.plan.nFallback).toBeGreaterThan(0);
        const f = await parseGGUF(out);
        const types = new Map(f.tensors.map((t) => [t.name, t.typeName]));
        await f.close();
        expect(types.get('blk.0.attn_output.weight')).toBe(body);
        expect(types.get('output.weight')).toBe('Q8_0');
        const logits = await oracleLogitsMany(out, SEQS, EVAL);
        expect(allFinite(logits)).toBe(true);
        expect(meanKL(ref, logits), `${arch} ${type}`).toBeLessThan(max);
      }
    });
  }
});
