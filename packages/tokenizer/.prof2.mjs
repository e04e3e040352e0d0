import { parseGGUF } from '@quant/gguf';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from './dist/index.js';
const file = await parseGGUF(`/work/shared/vocab/ggml-vocab-gpt-2.gguf`);
let text = ''; const files = [];
const walk = (d, depth) => { for (const e of readdirSync(d, { withFileTypes: true })) { const p = join(d, e.name); if (e.isDirectory() && depth < 8) walk(p, depth + 1); else if (e.isFile() && /^readme\.md$/i.test(e.name) && statSync(p).size > 4000) files.push(p); } };
walk('/work/main/node_modules/.pnpm', 0); files.sort();
for (const f of files) { text += readFileSync(f, 'utf8') + '\n'; if (text.length > 1e6) break; }
text = text.slice(0, 1e6);
const toks = Array.from({length: 6}, () => Tokenizer.fromGGUF(file));
for (const tok of toks) tok.encode(text, { addBos: false });
