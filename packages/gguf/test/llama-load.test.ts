// llama.cpp (node-llama-cpp) loads and runs models written by writeGGUF.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseGGUF, writeGGUF } from '@quant/gguf';
import { getLlama, type Llama, type Token } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tinyLlama, vocab } from './tiny-llama';

const tmp = mkdtempSync(join(tmpdir(), 'gguf-llama-'));
let llama: Llama;
beforeAll(async () => {
  llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' as never });
});
afterAll(async () => {
  await llama?.dispose();
  rmSync(tmp, { recursive: true, force: true });
});

async function lastLogits(
  modelPath: string,
): Promise<{ logits: Map<number, number>; tokens: number[]; text: string }> {
  const model = await llama.loadModel({ modelPath });
  try {
    const ctx = await model.createContext({ contextSize: 64, threads: 1 });
    try {
      const tokens = model.tokenize('Once upon a time', false);
      const seq = ctx.getSequence();
      const input = [1, ...tokens] as Token[];
      const last = input.pop() as Token;
      const res = await seq.controlledEvaluate([...input, [last, { generateNext: { logits: true } }]]);
      const logits = res.at(-1)?.next?.logits as Map<number, number>;
      return { logits, tokens, text: model.detokenize(tokens) };
    } finally {
      await ctx.dispose();
    }
  } finally {
    await model.dispose();
  }
}

describe('node-llama-cpp runs a model written by writeGGUF', () => {
  it('loads, tokenizes with the SentencePiece vocab, and produces finite logits', async () => {
    const path = join(tmp, 'tiny.gguf');
    await writeGGUF(path, tinyLlama(1, false));
    const f = await parseGGUF(path);
    expect(f.metadataTypes['llama.rope.freq_base']).toBe(6);
    const { logits, tokens, text } = await lastLogits(path);
    const { tokens: pieces } = vocab();
    // SentencePiece merges need every intermediate piece; with this small vocab '▁a' and the
    // byte-fallback tokens appear, and the text survives the round trip.
    expect(text.trim()).toBe('Once upon a time');
    expect(tokens.map((t) => pieces[t])).toContain('▁a');
    expect(tokens.map((t) => pieces[t])).toContain('<0x4F>');
    expect(logits.size).toBe(pieces.length);
    const values = [...logits.values()];
    expect(values.every(Number.isFinite)).toBe(true);
    expect(new Set(values.map((v) => v.toFixed(4))).size).toBeGreaterThan(10);
  });

  it('tensor data lands at the offsets llama.cpp reads: an all-zero output matrix gives all-zero logits', async () => {
    const path = join(tmp, 'tiny-zero.gguf');
    await writeGGUF(path, tinyLlama(2, true));
    const { logits } = await lastLogits(path);
    expect([...logits.values()].every((v) => v === 0)).toBe(true);
  });
});
