// Bad input gives a QuantizeError with a code and a message naming the file or tensor.
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeGGUF } from '@quant/gguf';
import { QuantizeError, type QuantizeErrorCode, quantizeModel } from '@quant/quantize';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NARROW, syntheticModel } from './helpers/synthetic.js';
import { writeSynthetic } from './helpers/write-synthetic.js';

const dir = mkdtempSync(join(tmpdir(), 'quant-err-'));
const src = join(dir, 'f16.gguf');
beforeAll(() => writeSynthetic(src, syntheticModel('llama', NARROW)));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function codeOf(p: Promise<unknown>): Promise<{ code: QuantizeErrorCode; message: string }> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(QuantizeError);
    return { code: (e as QuantizeError).code, message: (e as Error).message };
  }
  throw new Error('expected a QuantizeError');
}

describe('errors', () => {
  it('unknown type', async () => {
    const e = await codeOf(quantizeModel(src, join(dir, 'x.gguf'), { type: 'Q7_K' as never }));
    expect(e.code).toBe('UNKNOWN_FILE_TYPE');
    expect(e.message).toContain('Q4_K_M');
    expect(existsSync(join(dir, 'x.gguf'))).toBe(false);
  });

  it('output path = input path (also through a symlink), input left intact', async () => {
    const before = readFileSync(src);
    expect((await codeOf(quantizeModel(src, src, { type: 'Q8_0' }))).code).toBe('SAME_INPUT_OUTPUT');
    const link = join(dir, 'link.gguf');
    symlinkSync(src, link);
    expect((await codeOf(quantizeModel(src, link, { type: 'Q8_0' }))).code).toBe('SAME_INPUT_OUTPUT');
    expect(readFileSync(src).equals(before)).toBe(true);
  });

  it('not a GGUF file / missing file', async () => {
    const junk = join(dir, 'junk.gguf');
    writeFileSync(junk, 'hello world, not a model');
    expect((await codeOf(quantizeModel(junk, join(dir, 'y.gguf'), { type: 'Q8_0' }))).code).toBe(
      'READ_FAILED',
    );
    const e = await codeOf(quantizeModel(join(dir, 'nope.gguf'), join(dir, 'y.gguf'), { type: 'Q8_0' }));
    expect(e.code).toBe('READ_FAILED');
    expect(e.message).toContain('nope.gguf');
  });

  it('already quantized input', async () => {
    const q = join(dir, 'q8.gguf');
    await quantizeModel(src, q, { type: 'Q8_0', threads: 1 });
    const e = await codeOf(quantizeModel(q, join(dir, 'z.gguf'), { type: 'Q4_K_M', threads: 1 }));
    expect(e.code).toBe('REQUANTIZE_NOT_ALLOWED');
    expect(e.message).toMatch(/blk\.0\.|output|token_embd/);
  });

  it('missing architecture metadata', async () => {
    const bare = join(dir, 'bare.gguf');
    await writeGGUF(bare, {
      metadata: { 'general.name': 'x' },
      tensors: [{ name: 'a.weight', type: 0, shape: [32, 2], data: new Uint8Array(256) }],
    });
    const e = await codeOf(quantizeModel(bare, join(dir, 'b.gguf'), { type: 'Q8_0' }));
    expect(e.code).toBe('BAD_MODEL_METADATA');
    expect(e.message).toContain('general.architecture');
  });

  it('truncated tensor data: a typed error, and no partial output left behind', async () => {
    const cut = join(dir, 'cut.gguf');
    copyFileSync(src, cut);
    truncateSync(cut, readFileSync(src).length - 5000);
    const out = join(dir, 'cut-q8.gguf');
    const e = await codeOf(quantizeModel(cut, out, { type: 'Q8_0', threads: 1 }));
    expect(['READ_FAILED']).toContain(e.code);
    expect(existsSync(out)).toBe(false);
  });

  it('NaN / Inf weights: a typed error naming tensor, row and column; no output left behind', async () => {
    const m = syntheticModel('llama', { ...NARROW, nEmbd: 256, nFf: 512 }, 8);
    const t = m.tensors.find((x) => x.name === 'blk.1.ffn_down.weight');
    if (!t) throw new Error('no such tensor');
    t.values[200 * 512 + 7] = Number.NaN; // row 200, column 7 (rows are 512 wide)
    const bad = join(dir, 'nan.gguf');
    await writeSynthetic(bad, m);
    for (const threads of [1, 2]) {
      for (const type of ['Q8_0', 'Q4_K_M', 'Q5_K_M'] as const) {
        const out = join(dir, `nan-${type}.gguf`);
        const e = await codeOf(quantizeModel(bad, out, { type, threads }));
        expect(e.code).toBe('NON_FINITE_VALUES');
        expect(e.message).toContain('blk.1.ffn_down.weight');
        expect(e.message).toContain('row 200, column 7');
        expect(existsSync(out)).toBe(false);
      }
    }
  });

  it('abort: stops and removes the partial file', async () => {
    const out = join(dir, 'aborted.gguf');
    const ac = new AbortController();
    const e = await codeOf(
      quantizeModel(src, out, {
        type: 'Q8_0',
        threads: 1,
        signal: ac.signal,
        onProgress: (done) => {
          if (done === 3) ac.abort();
        },
      }),
    );
    expect(e.code).toBe('ABORTED');
    expect(existsSync(out)).toBe(false);
  });
});
