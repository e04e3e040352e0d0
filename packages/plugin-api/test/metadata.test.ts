import { describe, expect, it } from 'vitest';
import { MetadataError, MetadataReader } from '../src/index.js';

describe('MetadataReader', () => {
  const meta = new Map<string, unknown>([
    ['general.architecture', 'llama'],
    ['llama.block_count', 5],
    ['llama.context_length', 2048n],
    ['llama.attention.layer_norm_rms_epsilon', 1e-5],
    ['llama.attention.head_count', [8, 8, 8]],
    ['llama.feed_forward_length', Uint32Array.of(4, 5)],
    ['llama.rope.scaling.type', 'linear'],
    ['llama.flag', true],
  ]);
  const r = new MetadataReader('llama', meta, 'model.gguf');

  it('reads arch-prefixed numbers, bigints, strings, bools and uniform arrays', () => {
    expect(r.archU32('block_count')).toBe(5);
    expect(r.archU32('context_length')).toBe(2048);
    expect(r.archF32('attention.layer_norm_rms_epsilon')).toBeCloseTo(1e-5);
    expect(r.archString('rope.scaling.type')).toBe('linear');
    expect(r.archBool('flag')).toBe(true);
    expect(r.archUniformU32('attention.head_count')).toBe(8);
    expect(r.archU32('missing', 7)).toBe(7);
  });

  it('works over a plain object too', () => {
    expect(new MetadataReader('phi3', { 'phi3.block_count': 32 }).archU32('block_count')).toBe(32);
  });

  it('names the key and the file when a key is missing or mistyped', () => {
    expect(() => r.archU32('embedding_length')).toThrow(
      expect.objectContaining({ code: 'MISSING_METADATA', key: 'llama.embedding_length' }),
    );
    expect(() => r.archU32('embedding_length')).toThrow(/model\.gguf/);
    expect(() => r.archU32('rope.scaling.type')).toThrow(
      expect.objectContaining({ code: 'INVALID_METADATA' }),
    );
    expect(() => r.archString('block_count')).toThrow(MetadataError);
    expect(() => r.archUniformU32('feed_forward_length')).toThrow(/varies per layer/);
    expect(() => r.archU32('attention.layer_norm_rms_epsilon')).toThrow(/non-negative integer/);
  });
});
