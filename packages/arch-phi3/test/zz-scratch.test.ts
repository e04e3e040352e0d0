import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadKernels } from '@quant/kernels';
import { loadModel } from '@quant/runtime';
import { it } from 'vitest';
import { oracleLogits } from '../../runtime/test/helpers/oracle.js';
import { referencePhi3 } from './helpers/reference-phi3.js';
import { syntheticPrompt, writeSyntheticPhi3 } from './helpers/synthetic-phi3.js';

it('scratch', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'scr-'));
  const k = await loadKernels({ threads: 1 });
  for (const qk of [1, 2]) {
    const cfg = { nEmbd: 256, nLayers: 2, nHeads: 8, nKvHeads: 8, nFF: 512, weightType: 'F32' as const, seed: 1 };
    const p = join(dir, `m${qk}.gguf`);
    const w = await writeSyntheticPhi3(p, cfg, (t, s, r, c) => k.quantize(t, s, r, c));
    const prompt = syntheticPrompt(1, 40);
    const ref = referencePhi3(w, cfg, prompt, { window: 0 });
    const ll = await oracleLogits(p, prompt, 512);
    for (const kvType of ['f16', 'f32'] as const) {
      const m = await loadModel(p, { kernels: k, contextSize: 512, kvType });
      const ours = await m.createSession().evaluate(prompt, { allLogits: true });
      let dOurs = 0, dLl = 0, dOL = 0, mx = 0;
      const nv = m.hparams.nVocab;
      ref.forEach((row, pi) => row.forEach((v, i) => {
        const o = ours[pi * nv + i] as number; const l = (ll[pi] as Float32Array)[i] as number;
        dOurs = Math.max(dOurs, Math.abs(o - v)); dLl = Math.max(dLl, Math.abs(l - v)); dOL = Math.max(dOL, Math.abs(o - l)); mx = Math.max(mx, Math.abs(v));
      }));
      console.log(kvType, { dOurs, dLl, dOL, mx });
      m.dispose();
    }
  }
});
