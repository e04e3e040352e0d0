import { describe, expect, it } from 'vitest';
import { type TensorDirectory, TensorSpecError, validateTensors } from '../src/index.js';

function dir(shapes: Record<string, number[]>): TensorDirectory {
  return {
    has: (n) => n in shapes,
    shape: (n) => shapes[n],
    type: (n) => (n in shapes ? 0 : undefined),
    names: () => Object.keys(shapes),
  };
}

describe('validateTensors', () => {
  it('returns the present specs, skipping absent optional ones, ignoring trailing 1s', () => {
    const specs = validateTensors(
      [
        { name: 'a', shape: [4, 8], role: 'matrix' },
        { name: 'b', shape: [4], role: 'vector' },
        { name: 'c', shape: [4], role: 'vector', optional: true },
      ],
      dir({ a: [4, 8], b: [4, 1] }),
    );
    expect(specs.map((s) => s.name)).toEqual(['a', 'b']);
  });

  it('missing required tensor → MISSING_TENSOR naming tensor and expected shape', () => {
    expect(() =>
      validateTensors([{ name: 'blk.0.attn_q.weight', shape: [64, 64], role: 'matrix' }], dir({}), 'x.gguf'),
    ).toThrow(
      expect.objectContaining({
        code: 'MISSING_TENSOR',
        tensor: 'blk.0.attn_q.weight',
        message: expect.stringMatching(/\[64, 64\].*x\.gguf/),
      }),
    );
  });

  it('mis-shaped tensor (optional or not) → TENSOR_SHAPE_MISMATCH with expected and found', () => {
    let err: TensorSpecError | undefined;
    try {
      validateTensors(
        [{ name: 'w', shape: [64, 96], role: 'matrix', optional: true }],
        dir({ w: [64, 128] }),
      );
    } catch (e) {
      err = e as TensorSpecError;
    }
    expect(err).toBeInstanceOf(TensorSpecError);
    expect(err?.code).toBe('TENSOR_SHAPE_MISMATCH');
    expect(err?.expected).toEqual([64, 96]);
    expect(err?.found).toEqual([64, 128]);
    expect(err?.message).toMatch(/"w".*\[64, 128\].*expected \[64, 96\]/);
  });
});
