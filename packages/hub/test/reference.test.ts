/** Reference parsing, quantization tags, split sets, the :QUANT choice and the alias registry (no network). */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import {
  availableTags,
  chooseFileSet,
  formatHfReference,
  HubError,
  loadRegistry,
  modelFileSets,
  parseHfReference,
  parseModelReference,
  quantTag,
  splitInfo,
} from '../src/index.js';
import { tempDir } from './helpers/fixtures.js';

const registry = loadRegistry(undefined, {});
const parse = (s: string, exists = false) =>
  parseModelReference(s, { registry, endpoint: 'https://huggingface.co', exists: () => exists });

function hubError(fn: () => unknown): HubError {
  try {
    fn();
  } catch (e) {
    if (e instanceof HubError) return e;
    throw e;
  }
  throw new Error('expected a HubError');
}

describe('hf: references', () => {
  test('file, quantization tag, bare repository, revisions', () => {
    expect(parseHfReference('hf:bartowski/Phi-3.5-mini-instruct-GGUF:Q4_K_M')).toEqual({
      kind: 'hf',
      repo: 'bartowski/Phi-3.5-mini-instruct-GGUF',
      revision: 'main',
      quant: 'Q4_K_M',
    });
    expect(parseHfReference('hf:o/r/sub/dir/model-Q8_0.gguf')).toEqual({
      kind: 'hf',
      repo: 'o/r',
      revision: 'main',
      file: 'sub/dir/model-Q8_0.gguf',
    });
    expect(parseHfReference('hf:o/r/m.gguf@v1.0')).toMatchObject({ file: 'm.gguf', revision: 'v1.0' });
    expect(parseHfReference('hf:o/r@dev/m.gguf')).toMatchObject({ file: 'm.gguf', revision: 'dev' });
    expect(parseHfReference('hf:o/r:q4_k_m@refs/pr/3')).toMatchObject({
      quant: 'q4_k_m',
      revision: 'refs/pr/3',
    });
    expect(parseHfReference('hf:o/r')).toEqual({ kind: 'hf', repo: 'o/r', revision: 'main' });
    expect(formatHfReference(parseHfReference('hf:o/r/m.gguf@v1'))).toBe('hf:o/r/m.gguf@v1');
    expect(formatHfReference(parseHfReference('hf:o/r:Q8_0'))).toBe('hf:o/r:Q8_0');
  });

  test('malformed references are INVALID_REFERENCE errors', () => {
    for (const bad of ['hf:', 'hf:onlyowner', 'hf:o/r/../x.gguf', 'hf:o/r@a/m.gguf@b', 'hf:o/r:', 'hf:/r/x'])
      expect(hubError(() => parseHfReference(bad)).code, bad).toBe('INVALID_REFERENCE');
  });

  test('Hub resolve/blob URLs become hf: references; other URLs stay URLs', () => {
    expect(parse('https://huggingface.co/o/r/resolve/main/dir/m-Q4_K_M.gguf')).toEqual({
      kind: 'hf',
      repo: 'o/r',
      revision: 'main',
      file: 'dir/m-Q4_K_M.gguf',
    });
    expect(parse('https://huggingface.co/o/r/blob/refs%2Fpr%2F1/m.gguf')).toMatchObject({
      revision: 'refs/pr/1',
      file: 'm.gguf',
    });
    expect(
      parseModelReference('http://127.0.0.1:9/o/r/resolve/v2/m.gguf', {
        registry,
        endpoint: 'http://127.0.0.1:9',
        exists: () => false,
      }),
    ).toMatchObject({ kind: 'hf', repo: 'o/r', revision: 'v2' });
    expect(parse('https://example.com/models/m.gguf')).toEqual({
      kind: 'url',
      url: 'https://example.com/models/m.gguf',
    });
  });

  test('a local file wins over an alias of the same name; unknown names list the registry', () => {
    expect(parse('phi3.5', true)).toEqual({ kind: 'path', path: 'phi3.5' });
    const e = hubError(() => parse('no-such-model'));
    expect(e.code).toBe('UNKNOWN_MODEL');
    expect(e.message).toContain('phi3.5');
    expect(e.message).toContain('hf:owner/repo:Q4_K_M');
    expect(hubError(() => parse('./models/missing.gguf')).message).toBe(
      'model file not found: ./models/missing.gguf',
    );
  });
});

describe('the built-in alias registry', () => {
  test('Phi-3.5-mini is bartowski’s Q4_K_M under the names the issue lists', () => {
    for (const name of ['phi3.5', 'phi3.5:mini', 'phi-3.5', 'phi-3.5-mini', 'PHI3.5'])
      expect(parse(name), name).toEqual({
        kind: 'hf',
        repo: 'bartowski/Phi-3.5-mini-instruct-GGUF',
        revision: 'main',
        quant: 'Q4_K_M',
        alias: 'phi-3.5-mini-instruct',
      });
  });

  test('every entry is an hf:…:QUANT reference of an architecture quant runs, with a size hint', () => {
    expect(registry.entries.length).toBeGreaterThanOrEqual(4);
    for (const e of registry.entries) {
      const r = parseHfReference(e.ref);
      expect(r.quant, e.name).toBeTruthy();
      expect(['llama', 'phi3']).toContain(e.architecture);
      expect(e.sizeHint, e.name).toMatch(/^\d+(\.\d+)? GB$/);
    }
    const repos = registry.entries.map((e) => parseHfReference(e.ref).repo);
    expect(repos).toEqual(
      expect.arrayContaining([
        'bartowski/Phi-3.5-mini-instruct-GGUF',
        'microsoft/Phi-3-mini-4k-instruct-gguf',
        'bartowski/Llama-3.2-1B-Instruct-GGUF',
        'HuggingFaceTB/SmolLM2-1.7B-Instruct-GGUF',
      ]),
    );
  });

  test('QUANT_MODEL_REGISTRY and the registry option add entries that win over built-in names', () => {
    const dir = tempDir();
    const file = join(dir, 'extra.json');
    writeFileSync(
      file,
      JSON.stringify({ models: [{ name: 'phi3.5', ref: 'hf:me/mine:Q8_0', aliases: ['mine'] }] }),
    );
    const r = loadRegistry(undefined, { QUANT_MODEL_REGISTRY: file });
    expect(r.lookup('phi3.5')?.ref).toBe('hf:me/mine:Q8_0');
    expect(r.lookup('mine')?.ref).toBe('hf:me/mine:Q8_0');
    expect(r.lookup('phi-3.5')?.ref).toBe('hf:bartowski/Phi-3.5-mini-instruct-GGUF:Q4_K_M');
    const o = loadRegistry({ models: [{ name: 'x', ref: 'hf:a/b:Q4_0' }] }, {});
    expect(o.lookup('x')?.ref).toBe('hf:a/b:Q4_0');
    writeFileSync(file, '{"models": [{"name": "bad", "ref": "not-hf"}]}');
    expect(hubError(() => loadRegistry(undefined, { QUANT_MODEL_REGISTRY: file })).code).toBe(
      'INVALID_REGISTRY',
    );
  });
});

describe('file names: tags, split sets and the :QUANT choice', () => {
  test('tags as llama.cpp tools write them', () => {
    expect(quantTag('Phi-3.5-mini-instruct-Q4_K_M.gguf')).toBe('Q4_K_M');
    expect(quantTag('smollm2-1.7b-instruct-q4_k_m.gguf')).toBe('q4_k_m');
    expect(quantTag('Phi-3-mini-4k-instruct-q4.gguf')).toBe('q4');
    expect(quantTag('llama-2-7b.Q5_K_S.gguf')).toBe('Q5_K_S');
    expect(quantTag('big/Model-Q8_0-00002-of-00003.gguf')).toBe('Q8_0');
    expect(quantTag('Llama-3.2-1B-Instruct-IQ4_XS.gguf')).toBe('IQ4_XS');
    expect(quantTag('Llama-3.2-1B-Instruct-f16.gguf')).toBe('f16');
    expect(quantTag('model.gguf')).toBeUndefined();
    expect(quantTag('README.md')).toBeUndefined();
    expect(splitInfo('a/M-Q8_0-00002-of-00003.gguf')).toEqual({ base: 'M-Q8_0', index: 2, count: 3 });
    expect(splitInfo('M-Q8_0.gguf')).toBeUndefined();
  });

  const listing = [
    'README.md',
    'M-Q4_K_M.gguf',
    'M-Q4_K_S.gguf',
    'M-IQ4_XS.gguf',
    'M-Q4_0.gguf',
    'M-Q4_0_4_4.gguf',
    'mmproj-M-f16.gguf',
    'M-Q8_0/M-Q8_0-00001-of-00002.gguf',
    'M-Q8_0/M-Q8_0-00002-of-00002.gguf',
    'M-chat-Q5_K_M.gguf',
    'M-Q5_K_M.gguf',
  ];
  const sets = modelFileSets(listing);
  const ref = (quant?: string) => ({
    kind: 'hf' as const,
    repo: 'o/r',
    revision: 'main',
    ...(quant ? { quant } : {}),
  });

  test('one match: the file (case-insensitive; Q4_K is not Q4_K_M, Q4_0 is not Q4_0_4_4 or IQ4)', () => {
    expect(chooseFileSet(sets, ref('q4_k_m'), 'o/r').parts).toEqual(['M-Q4_K_M.gguf']);
    expect(chooseFileSet(sets, ref('Q4_0'), 'o/r').parts).toEqual(['M-Q4_0.gguf']);
    expect(chooseFileSet(sets, ref('Q8_0'), 'o/r').parts).toEqual([
      'M-Q8_0/M-Q8_0-00001-of-00002.gguf',
      'M-Q8_0/M-Q8_0-00002-of-00002.gguf',
    ]);
    expect(chooseFileSet(sets, ref(), 'o/r').path).toBe('M-Q4_K_M.gguf');
    expect(availableTags(sets)).toEqual(['IQ4_XS', 'Q4_0', 'Q4_0_4_4', 'Q4_K_M', 'Q4_K_S', 'Q5_K_M', 'Q8_0']);
  });

  test('no match: QUANT_NOT_FOUND listing the available tags', () => {
    const e = hubError(() => chooseFileSet(sets, ref('Q4_K'), 'o/r'));
    expect(e.code).toBe('QUANT_NOT_FOUND');
    expect(e.availableTags).toEqual(['IQ4_XS', 'Q4_0', 'Q4_0_4_4', 'Q4_K_M', 'Q4_K_S', 'Q5_K_M', 'Q8_0']);
    expect(e.message).toContain('Available: IQ4_XS, Q4_0, Q4_0_4_4, Q4_K_M, Q4_K_S, Q5_K_M, Q8_0');
  });

  test('several matches: QUANT_AMBIGUOUS naming the files', () => {
    const e = hubError(() => chooseFileSet(sets, ref('Q5_K_M'), 'o/r'));
    expect(e.code).toBe('QUANT_AMBIGUOUS');
    expect(e.candidates).toEqual(['M-Q5_K_M.gguf', 'M-chat-Q5_K_M.gguf']);
    expect(e.message).toContain('hf:o/r/<file>');
  });
});
