/**
 * Registration, the Phi-3 chat format, and the Phi-3 vocabulary's end-of-generation and BOS
 * handling, on synthetic phi3 models that carry the real vocabulary (../shared/vocab), with
 * llama.cpp (node-llama-cpp, vocab-only) as the oracle for token ids, BOS and the EOG set.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kernels } from '@quant/kernels';
import { getArchitecture, listArchitectures } from '@quant/plugin-api';
import { loadModel, type Model } from '@quant/runtime';
import { behaviourKernels, oracle, sharedDir, writeSyntheticPhi3 } from '@quant/test-utils';
import type { LlamaModel } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PHI3_CHAT_TEMPLATE, phi3Plugin } from '../src/index.js';

const VOCAB = join(sharedDir, 'vocab', 'ggml-vocab-phi-3.gguf');
const haveVocab = existsSync(VOCAB);
if (!haveVocab)
  console.warn(`[arch-phi3 chat-and-vocab] ${VOCAB} is absent: skipping the Phi-3 vocabulary checks.`);

describe('registration', () => {
  it('importing @quant/arch-phi3 registers the plugin under "phi3" (llama.cpp’s LLM_ARCH_PHI3 name)', () => {
    expect(getArchitecture('phi3')).toBe(phi3Plugin);
    expect(listArchitectures().find((a) => a.name === 'phi3')).toMatchObject({ name: 'phi3', aliases: [] });
    expect(phi3Plugin.chatTemplate).toBe(PHI3_CHAT_TEMPLATE);
  });
});

describe.skipIf(!haveVocab)('Phi-3 vocabulary and chat format', () => {
  const dir = mkdtempSync(join(tmpdir(), 'quant-phi3-chat-'));
  let kernels: Kernels;
  let ref: LlamaModel;
  const models = new Map<string, Model>();
  const END = 32007;
  const ENDOFTEXT = 32000;

  /** A phi3 model with the real vocab whose greedy output is always `token` (or random weights). */
  async function model(key: string, token?: number): Promise<Model> {
    const p = join(dir, `${key}.gguf`);
    await writeSyntheticPhi3(
      p,
      {
        nEmbd: 64,
        nLayers: 1,
        nHeads: 4,
        nKvHeads: 4,
        nFF: 64,
        weightType: 'F32',
        seed: 41,
        vocabFile: VOCAB,
        name: 'Phi3',
        // Without the vocab file's own template, so the plugin's fallback is used.
        metadata: { 'tokenizer.chat_template': undefined },
        ...(token === undefined
          ? {}
          : {
              // Blocks add nothing; every embedding is 1s; the head has a single non-zero row.
              edit: (name: string, v: Float32Array) => {
                if (name === 'token_embd.weight') v.fill(1);
                else if (/attn_output|ffn_down/.test(name)) v.fill(0);
                else if (name === 'output_norm.weight') v.fill(1);
                else if (name === 'output.weight') v.fill(0).fill(1, token * 64, (token + 1) * 64);
              },
            }),
      },
      (t, s, r, c) => kernels.quantize(t, s, r, c),
    );
    const m = await loadModel(p, { kernels, contextSize: 64 });
    models.set(key, m);
    return m;
  }

  beforeAll(async () => {
    kernels = await behaviourKernels('arch-phi3 chat-and-vocab');
    ref = await (await oracle()).loadModel({ modelPath: VOCAB, vocabOnly: true });
  });
  afterAll(async () => {
    for (const m of models.values()) m.dispose();
    await ref?.dispose();
    kernels?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the end-of-generation set is llama.cpp’s and holds <|end|> and <|endoftext|>', async () => {
    const m = await model('random');
    const tok = m.tokenizer;
    expect(tok.tokenId('<|end|>')).toBe(END);
    expect(tok.tokenId('<|endoftext|>')).toBe(ENDOFTEXT);
    const ours = [...tok.eogIds].sort((a, b) => a - b);
    const theirs: number[] = [];
    for (let id = 0; id < m.hparams.nVocab; id++) if (ref.isEogToken(id as never)) theirs.push(id);
    expect(ours).toEqual(theirs);
    expect(ours).toEqual(expect.arrayContaining([END, ENDOFTEXT]));
  });

  it('BOS <s> is added as llama.cpp adds it for this vocabulary', () => {
    const m = models.get('random') as Model;
    const text = 'Hello world, this is Phi-3.';
    const bos = ref.tokens.shouldPrependBosToken ? [ref.tokens.bos as number] : [];
    expect(m.tokenize(text)).toEqual([...bos, ...ref.tokenize(text, false).map(Number)]);
    expect(m.tokenizer.bosId).toBe(ref.tokens.bos);
  });

  it('the fallback chat template writes the Phi-3 instruct format and tokenizes as llama.cpp does', () => {
    const m = models.get('random') as Model;
    expect(m.chatTemplate()).toBe(PHI3_CHAT_TEMPLATE);
    const messages = [
      { role: 'system', content: 'You are a helpful assistant.' },
      { role: 'user', content: 'How to explain Internet for a medieval knight?' },
      { role: 'assistant', content: 'A magic web of messengers.' },
      { role: 'user', content: 'Shorter?' },
    ] as const;
    // The format published with Phi-3/3.5-mini-instruct (and llama.cpp's built-in "phi3" format).
    const expected =
      '<|system|>\nYou are a helpful assistant.<|end|>\n<|user|>\nHow to explain Internet for a medieval knight?<|end|>\n' +
      '<|assistant|>\nA magic web of messengers.<|end|>\n<|user|>\nShorter?<|end|>\n<|assistant|>\n';
    const text = m.renderChat(messages);
    expect(text).toBe(expected);
    expect(m.renderChat(messages.slice(1, 2))).toBe(
      '<|user|>\nHow to explain Internet for a medieval knight?<|end|>\n<|assistant|>\n',
    );
    const bos = ref.tokens.shouldPrependBosToken ? [ref.tokens.bos as number] : [];
    expect(m.tokenize(text, { parseSpecial: true })).toEqual([
      ...bos,
      ...ref.tokenize(text, true).map(Number),
    ]);
  });

  it('generation ends at <|end|> and at <|endoftext|>, and runs on otherwise', async () => {
    for (const [key, token, reason, n] of [
      ['end', END, 'eog', 0],
      ['endoftext', ENDOFTEXT, 'eog', 0],
      ['plain', 450, 'length', 5],
    ] as const) {
      const m = await model(key, token);
      const gen = m.chat([{ role: 'user', content: 'Hi' }], { temperature: 0, maxTokens: 5 });
      await gen.text();
      expect([key, gen.finishReason, gen.tokens.length]).toEqual([key, reason, n]);
      if (n > 0) expect(new Set(gen.tokens)).toEqual(new Set([token]));
    }
  });
});
