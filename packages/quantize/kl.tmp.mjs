// test/helpers/llama-eval.ts
import { getLlama } from "node-llama-cpp";
var llamaPromise;
function oracle() {
  llamaPromise ??= getLlama({ gpu: false, build: "never", logLevel: "error" });
  return llamaPromise;
}
async function logitsOf(modelPath, sequences) {
  const llama = await oracle();
  const model = await llama.loadModel({ modelPath });
  try {
    const out = [];
    for (const tokens of sequences) {
      const ctx = await model.createContext({ contextSize: 256, threads: 1, batchSize: 256 });
      try {
        const seq = ctx.getSequence();
        const res = await seq.controlledEvaluate(tokens.map((t) => [t, { generateNext: { logits: true } }]));
        out.push(
          res.map((r) => {
            const m = r?.next?.logits;
            if (!m) throw new Error("no logits returned");
            const v = new Float64Array(m.size);
            for (const [id, logit] of m) v[id] = logit;
            return v;
          })
        );
      } finally {
        await ctx.dispose();
      }
    }
    return out;
  } finally {
    await model.dispose();
  }
}
function tokenize(modelPath, texts) {
  return (async () => {
    const llama = await oracle();
    const model = await llama.loadModel({ modelPath, vocabOnly: true });
    try {
      const bos = model.tokens.bos;
      return texts.map((t) => [...bos === null ? [] : [bos], ...model.tokenize(t, false)].map(Number));
    } finally {
      await model.dispose();
    }
  })();
}
function logSoftmax(x) {
  let max = -Infinity;
  for (const v of x) if (v > max) max = v;
  let s = 0;
  for (const v of x) s += Math.exp(v - max);
  const lse = max + Math.log(s);
  return x.map((v) => v - lse);
}
function kl(pLogits, qLogits) {
  const lp = logSoftmax(pLogits);
  const lq = logSoftmax(qLogits);
  let d = 0;
  for (let i = 0; i < lp.length; i++) d += Math.exp(lp[i]) * (lp[i] - lq[i]);
  return d;
}
function meanKL(ref, cand) {
  let s = 0;
  let n = 0;
  ref.forEach(
    (seq, i) => seq.forEach((p, j) => {
      s += kl(p, cand[i][j]);
      n++;
    })
  );
  return s / n;
}

// kl.tmp.ts
var dir = "/work/shared/models/";
var prompts = ["Once upon a time, there was a little girl named Lily.", "Lily and Ben went to the park. They saw a big dog", "The cat sat on the mat and"];
for (const a of ["llama", "phi3"]) {
  const f32 = `${dir}stories260K-${a}-pad256-f32.gguf`;
  const toks = await tokenize(f32, prompts);
  const t0 = Date.now();
  const ref = await logitsOf(f32, toks);
  console.log(a, "positions", toks.map((t) => t.length), "ms", Date.now() - t0);
  for (const q of ["q8_0", "q6_k", "q5_k_m", "q4_k_m", "q3_k_m", "q2_k"]) {
    try {
      const l = await logitsOf(`${dir}stories260K-${a}-pad256-${q}.gguf`, toks);
      console.log(a, q, meanKL(ref, l).toExponential(3));
    } catch (e) {
      console.log(a, q, "n/a");
    }
  }
}
process.exit(0);
