import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadKernels } from '@quant/kernels';
import { loadModel } from '@quant/runtime';
import { compareLogits, oracleLogits, syntheticPrompt, writeSyntheticPhi3, type WeightType } from '@quant/test-utils';
import { it } from 'vitest';

const base = { nEmbd: 256, nLayers: 2, nHeads: 8, nFF: 512 } as const;
const kMix = (name: string): WeightType =>
  name.endsWith('ffn_down.weight') || name === 'output.weight' ? 'Q6_K' : name.endsWith('attn_qkv.weight') ? 'Q5_K' : 'Q4_K';
const longRope = { originalContextLength: 256, attnFactor: 1.1902380714238083 };

it('scratch', async () => {
  const cfg = { ...base, nKvHeads: 2, weightType: kMix, contextLength: 4096, longRope, seed: 8 } as never;
  const p = join(mkdtempSync(join(tmpdir(), 'zz-')), 'kq.gguf');
  const k = await loadKernels({ backend: 'native', threads: 1 });
  await writeSyntheticPhi3(p, cfg, (t, src, rows, cols) => k.quantize(t, src, rows, cols));
  k.dispose();
  const prompt = syntheticPrompt(8, 40);
  for (const ctxSize of [1024, 256])
  for (const [kv, fa] of [['f16', true]] as const) {
    const exp = await oracleLogits(p, prompt, { contextSize: ctxSize, kvType: kv, flashAttention: fa });
    for (const backend of ['native'] as const) {
      const m = await loadModel(p, { backend, threads: 1, contextSize: ctxSize, batchSize: 16, kvType: kv });
      const s = m.createSession();
      const ours = await s.evaluate(prompt, { allLogits: true });
      const c = compareLogits(exp, ours, m.hparams.nVocab);
      console.log(`ZZ ctx${ctxSize} kv=${kv} fa=${fa} ${backend}: maxAbsDiff ${c.maxAbsDiff.toExponential(3)} meanKL ${c.meanKL.toExponential(3)} mism ${JSON.stringify(c.argmaxMismatches)} gaps ${JSON.stringify(c.mismatchGaps)}`);
      const per: string[] = [];
      for (let q = 0; q < exp.length; q++) { let md = 0; const row = exp[q] as Float32Array; for (let i = 0; i < row.length; i++) md = Math.max(md, Math.abs((ours[q * row.length + i] as number) - (row[i] as number))); per.push(md.toExponential(1)); }
      console.log(`ZZ   per-pos ${per.join(' ')}`);
      s.dispose(); m.dispose();
    }
  }
}, 300000);
