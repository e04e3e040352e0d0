// Our files must be as good as llama-quantize's: mean KL(F32 || quantized) of next-token
// distributions, both evaluated by llama.cpp (node-llama-cpp), within 2% of llama-quantize's file.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseGGUF } from '@quant/gguf';
import { type QuantizeFileType, quantizeModel } from '@quant/quantize';
import { meanKL, oracleLogitsMany, oracleTokenize } from '@quant/test-utils';
import { afterAll, describe, expect, it } from 'vitest';
import { writeFf192 } from './helpers/ff192.js';
import { EVAL, haveShared, model } from './helpers/shared.js';

const PROMPTS = [
  'Once upon a time, there was a little girl named Lily. She loved to play outside.',
  'Lily and Ben went to the park. They saw a big dog and',
  'The cat sat on the mat. It was happy and warm.',
  'One day, a boy found a red ball in the garden. He',
  'Mom said, "Be careful!" but Tim ran to the tree',
];

const CASES: [string, QuantizeFileType][] = [
  ['q8_0', 'Q8_0'],
  ['q6_k', 'Q6_K'],
  ['q5_k_m', 'Q5_K_M'],
  ['q4_k_m', 'Q4_K_M'],
  ['q3_k_m', 'Q3_K_M'],
  ['q2_k', 'Q2_K'],
];

/** Names of tensors whose bytes differ between two GGUF files. */
async function differingTensors(a: string, b: string): Promise<string[]> {
  const fa = await parseGGUF(a);
  const fb = await parseGGUF(b);
  const out: string[] = [];
  for (const t of fb.tensors) {
    const x = await fa.readTensorData(t.name);
    const y = await fb.readTensorData(t.name);
    if (x.length !== y.length || x.some((v, i) => v !== y[i])) out.push(t.name);
  }
  await fa.close();
  await fb.close();
  return out;
}

async function compare(src: string, ours: string, theirs: string, label: string): Promise<void> {
  const seqs = await oracleTokenize(src, PROMPTS);
  const ref = await oracleLogitsMany(src, seqs, EVAL);
  const klOurs = meanKL(ref, await oracleLogitsMany(ours, seqs, EVAL));
  const klTheirs = meanKL(ref, await oracleLogitsMany(theirs, seqs, EVAL));
  console.log(
    `[quantize] ${label}: mean KL vs F32 — ours ${klOurs.toExponential(4)}, llama-quantize ${klTheirs.toExponential(4)}`,
  );
  expect(klOurs).toBeGreaterThan(0);
  expect(klOurs).toBeLessThanOrEqual(klTheirs * 1.02);
}

describe.skipIf(!haveShared)('quality vs llama-quantize (pad256 F32 models)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'quant-quality-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  for (const arch of ['llama', 'phi3']) {
    const f32 = model(`stories260K-${arch}-pad256-f32.gguf`);
    for (const [suffix, type] of CASES) {
      const theirs = model(`stories260K-${arch}-pad256-${suffix}.gguf`);
      it.skipIf(!existsSync(theirs))(`${arch} ${type}: mean KL within 2% of llama-quantize's`, async () => {
        const ours = join(dir, `${arch}-${suffix}.gguf`);
        await quantizeModel(f32, ours, { type, threads: 2 });
        await compare(f32, ours, theirs, `${arch} ${type}`);
        // Stronger than the KL bound: every tensor has llama-quantize's exact bytes.
        expect(await differingTensors(ours, theirs)).toEqual([]);
        // Same tensor types and metadata as llama-quantize's file.
        const a = await parseGGUF(ours);
        const b = await parseGGUF(theirs);
        expect(a.tensors.map((t) => [t.name, t.typeName, t.shape])).toEqual(
          b.tensors.map((t) => [t.name, t.typeName, t.shape]),
        );
        expect(a.metadata).toEqual(b.metadata);
        await a.close();
        await b.close();
        // In fact the whole file is llama-quantize's, byte for byte (metadata order, layout, padding).
        expect(readFileSync(ours).equals(readFileSync(theirs))).toBe(true);
      });
    }
  }
});

describe.skipIf(!haveShared)(
  'quality vs llama-quantize (ff192: Q4_0, Q8_0 and the 64-wide output fallback)',
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'quant-ff192-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    for (const [suffix, type] of [
      ['q4_0', 'Q4_0'],
      ['q8_0', 'Q8_0'],
    ] as const) {
      it(`llama ${type}`, async () => {
        const src = join(dir, 'ff192-f32.gguf');
        if (!existsSync(src)) await writeFf192(model('stories260K.gguf'), src);
        const ours = join(dir, `ff192-${suffix}.gguf`);
        const theirs = model(`stories260K-llama-ff192-${suffix}.gguf`);
        await quantizeModel(src, ours, { type, threads: 2 });
        await compare(src, ours, theirs, `ff192 llama ${type}`);
        expect(await differingTensors(ours, theirs)).toEqual([]);
      });
    }
  },
);
