// Encoding throughput: @quant/tokenizer vs llama.cpp (node-llama-cpp `tokenize`) on ~1 MB of English
// (package READMEs from node_modules, concatenated in sorted order), with the phi-3 (SPM) and gpt-2
// (BPE) vocabularies from ../shared/vocab. Run: pnpm --filter @quant/tokenizer bench
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseGGUF } from '@quant/gguf';
import { getLlama, LlamaLogLevel } from 'node-llama-cpp';
import { Tokenizer } from '../dist/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..', '..');
const vocabDir = join(repo, '..', 'shared', 'vocab');
const TARGET = Number(process.env.BENCH_BYTES ?? 1_000_000);
const REPEAT = Number(process.env.BENCH_REPEAT ?? 3);

function englishText() {
  const files = [];
  const walk = (dir, depth) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(dir, e.name);
      if (e.isDirectory() && depth < 8) walk(p, depth + 1);
      else if (e.isFile() && /^readme\.md$/i.test(e.name) && statSync(p).size > 4000) files.push(p);
    }
  };
  walk(join(repo, 'node_modules', '.pnpm'), 0);
  files.sort();
  let text = '';
  for (const f of files) {
    text += `${readFileSync(f, 'utf8')}\n`;
    if (Buffer.byteLength(text) >= TARGET) break;
  }
  while (Buffer.byteLength(text) < TARGET) text += text; // tiny install: repeat
  return text.slice(0, TARGET);
}

function best(fn) {
  let bestMs = Number.POSITIVE_INFINITY;
  let result;
  for (let i = 0; i < REPEAT; i++) {
    const t0 = performance.now();
    result = fn();
    bestMs = Math.min(bestMs, performance.now() - t0);
  }
  return { ms: bestMs, result };
}

if (!existsSync(vocabDir)) {
  console.log(`skipped: ${vocabDir} is absent`);
  process.exit(0);
}
const text = englishText();
console.log(`text: ${Buffer.byteLength(text)} bytes of English (package READMEs), best of ${REPEAT}`);
const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
const rows = [];
for (const name of ['phi-3', 'gpt-2']) {
  const path = join(vocabDir, `ggml-vocab-${name}.gguf`);
  const file = await parseGGUF(path);
  const load = best(() => Tokenizer.fromGGUF(file));
  const tok = load.result;
  const model = await llama.loadModel({ modelPath: path, vocabOnly: true });
  // cold: a fresh tokenizer each time (empty pre-tokenization cache); warm: the same one again
  const fresh = Array.from({ length: REPEAT }, () => Tokenizer.fromGGUF(file));
  let k = 0;
  const cold = best(() => fresh[k++].encode(text, { addBos: false }));
  const ours = best(() => tok.encode(text, { addBos: false }));
  const theirs = best(() => model.tokenize(text, false));
  const same =
    ours.result.length === theirs.result.length && ours.result.every((t, i) => t === theirs.result[i]);
  const n = theirs.result.length;
  rows.push({
    vocab: name,
    tokens: n,
    'load ms': Math.round(load.ms),
    'quant cold tok/s': Math.round(n / (cold.ms / 1000)),
    'quant warm tok/s': Math.round(n / (ours.ms / 1000)),
    'llama.cpp tok/s': Math.round(n / (theirs.ms / 1000)),
    'cold vs llama.cpp': `${(theirs.ms / cold.ms).toFixed(2)}x`,
    'warm vs llama.cpp': `${(theirs.ms / ours.ms).toFixed(2)}x`,
    'same ids': same,
  });
  await model.dispose();
}
console.table(rows);
