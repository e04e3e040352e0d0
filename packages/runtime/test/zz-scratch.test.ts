import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { parseGGUF } from '../../gguf/src/parse.js';
import { MetadataReader, requireArchitecture, validateTensors } from '@quant/plugin-api';
import '@quant/arch-llama';
import { tensorDirectory } from '../src/model/tensor-directory.js';
import { loadWeights } from '../src/model/load-weights.js';
import { Model } from '../src/model/model.js';
import { jsKernels } from './helpers/js-kernels.js';

it('scratch stories260K', async () => {
  const path = '/work/shared/models/stories260K.gguf';
  const file = await parseGGUF(path);
  const plugin = requireArchitecture('llama');
  const dir = tensorDirectory(file);
  const desc = { meta: new MetadataReader('llama', file.metadata, path), tensors: dir, architecture: 'llama' };
  const hparams = plugin.readHyperparameters(desc);
  console.log(hparams);
  const specs = validateTensors(plugin.tensors(hparams, desc), dir);
  const kernels = jsKernels();
  const weights = await loadWeights(kernels, file, specs, undefined, path);
  const model = new Model({ file, architecture: 'llama', plugin, hparams, kernels, ownsKernels: true, weights, tokenizer: {} as never, contextSize: 512, batchSize: 4, kvType: 'f32', architectureOptions: {} });
  const ref = JSON.parse(readFileSync('/work/shared/reference/stories260K.once.json', 'utf8'));
  console.log(Object.keys(ref), ref.prompt_tokens, ref.prompt_logits.length, ref.greedy[0]);
  const s = model.createSession();
  const all = await s.evaluate(ref.prompt_tokens, { allLogits: true });
  let maxd = 0, maxl = 0;
  for (let p = 0; p < ref.prompt_tokens.length; p++) {
    const r = ref.prompt_logits[p];
    for (let i = 0; i < r.length; i++) { maxd = Math.max(maxd, Math.abs(r[i] - all[p * r.length + i])); maxl = Math.max(maxl, Math.abs(r[i])); }
  }
  console.log('maxd', maxd, 'maxl', maxl);
  expect(maxd).toBeLessThan(1e-3 * maxl);
});
