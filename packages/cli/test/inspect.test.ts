import { formatInspect, inspectJSON, parseGGUF } from '@quant/gguf';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveShared, SMALL, stories, TempDir } from './helpers/fixtures';
import { quant } from './helpers/quant';

let tmp: TempDir;
let small: string;
beforeAll(async () => {
  tmp = new TempDir();
  small = await tmp.model('small.gguf', SMALL);
});
afterAll(() => tmp?.remove());

describe('quant inspect (the @quant/gguf inspector)', () => {
  it('prints what @quant/gguf’s inspector prints, with --tensors', async () => {
    const r = await quant(['inspect', small, '--tensors']);
    expect(r.code, r.stderr).toBe(0);
    const f = await parseGGUF(small);
    expect(r.stdout).toBe(`${formatInspect(f, { tensors: true })}\n`);
    await f.close();
    expect(r.stdout).toContain('blk.1.ffn_down.weight');
    expect(r.stdout).toMatch(/general\.architecture\s+str\s+= llama/);
  });

  it.skipIf(!haveShared)('--json (and --full) on stories260K', async () => {
    const r = await quant(['inspect', stories, '--json']);
    expect(r.code).toBe(0);
    const got = JSON.parse(r.stdout);
    const f = await parseGGUF(stories);
    expect(got).toEqual(JSON.parse(JSON.stringify(inspectJSON(f, { maxArrayItems: 16 }))));
    expect(got.totals.tensors).toBe(48);
    const fr = await quant(['inspect', stories, '--json', '--full']);
    expect(fr.code, fr.stderr).toBe(0);
    const full = JSON.parse(fr.stdout);
    const tokens = full.metadata.find((m: { key: string }) => m.key === 'tokenizer.ggml.tokens');
    expect(tokens.value).toHaveLength(512);
    await f.close();
  });
});
