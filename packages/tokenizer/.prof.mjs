import { parseGGUF } from '@quant/gguf';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '/work/main/packages/tokenizer/dist/index.js';
const name = process.argv[2] ?? 'gpt-2';
const file = await parseGGUF(`/work/shared/vocab/ggml-vocab-${name}.gguf`);
let text = '';
const files = [];
const walk = (d, depth) => { for (const e of readdirSync(d, { withFileTypes: true })) { const p = join(d, e.name); if (e.isDirectory() && depth < 8) walk(p, depth + 1); else if (e.isFile() && /^readme\.md$/i.test(e.name) && statSync(p).size > 4000) files.push(p); } };
walk('/work/main/node_modules/.pnpm', 0); files.sort();
for (const f of files) { text += readFileSync(f, 'utf8') + '\n'; if (text.length > 1e6) break; }
text = text.slice(0, 1e6);
for (let i = 0; i < 3; i++) {
  const tok = Tokenizer.fromGGUF(file);
  let t = performance.now(); const ids = tok.encode(text, { addBos: false }); const cold = performance.now() - t;
  t = performance.now(); tok.encode(text, { addBos: false }); const warm = performance.now() - t;
  console.log(name, 'cold', cold.toFixed(0), 'warm', warm.toFixed(0), ids.length);
}
