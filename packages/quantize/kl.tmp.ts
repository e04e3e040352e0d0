import { logitsOf, meanKL, tokenize } from './test/helpers/llama-eval.js';
const dir = '/work/shared/models/';
const prompts = ['Once upon a time, there was a little girl named Lily.', 'Lily and Ben went to the park. They saw a big dog', 'The cat sat on the mat and'];
for (const a of ['llama', 'phi3']) {
  const f32 = `${dir}stories260K-${a}-pad256-f32.gguf`;
  const toks = await tokenize(f32, prompts);
  const t0 = Date.now();
  const ref = await logitsOf(f32, toks);
  console.log(a, 'positions', toks.map((t) => t.length), 'ms', Date.now() - t0);
  for (const q of ['q8_0', 'q6_k', 'q5_k_m', 'q4_k_m', 'q3_k_m', 'q2_k']) {
    try { const l = await logitsOf(`${dir}stories260K-${a}-pad256-${q}.gguf`, toks); console.log(a, q, meanKL(ref, l).toExponential(3)); } catch (e) { console.log(a, q, 'n/a'); }
  }
}
process.exit(0);
