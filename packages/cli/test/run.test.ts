import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sharedDir } from '@quant/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveShared, SMALL, stories, storiesPhi3, TempDir } from './helpers/fixtures';
import { quant } from './helpers/quant';

interface Reference {
  greedy: { piece: string }[];
}
const reference = (name: string): Reference =>
  JSON.parse(readFileSync(join(sharedDir, 'reference', name), 'utf8'));

let tmp: TempDir;
let small: string;
beforeAll(async () => {
  tmp = new TempDir();
  small = await tmp.model('small.gguf', {
    ...SMALL,
    chatTemplate:
      '{% for m in messages %}<{{ m.role }}>{{ m.content }}</{{ m.role }}>{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}',
  });
});
afterAll(() => tmp?.remove());

describe.skipIf(!haveShared)('quant run on the shared stories260K models', () => {
  for (const [label, model] of [
    ['llama', stories],
    ['phi3', storiesPhi3],
  ] as const) {
    it(`${label}: greedy "Once upon a time" writes llama.cpp's greedy continuation`, async () => {
      const ref = reference('stories260K.once.json');
      const n = 24;
      const r = await quant(['run', model, 'Once upon a time', '--temp', '0', '-n', String(n)]);
      expect(r.stderr).toMatch(/generation 24 tokens, [\d.]+ tok\/s/);
      expect(r.code).toBe(0);
      const expected = ref.greedy
        .slice(0, n)
        .map((g) => g.piece)
        .join('');
      expect(r.stdout).toBe(`${expected}\n`);
    });
  }

  it('the quick-start form (sampling, no flags) prints a story and load/speed lines on stderr', async () => {
    const r = await quant(['run', stories, 'Once upon a time', '--seed', '3', '-n', '100']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split(/\s+/).length).toBeGreaterThan(20);
    expect(r.stderr).toMatch(/^loaded .*stories260K\.gguf: llama, 48 tensors/m);
    expect(r.stderr).toMatch(/prompt 5 tokens, [\d.]+ tok\/s · generation \d+ tokens, [\d.]+ tok\/s/);
  });

  it('--stop ends before the stop text', async () => {
    const r = await quant(['run', stories, 'Once upon a time', '--temp', '0', '-n', '30', '--stop', 'Lily']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(', there was a little girl named \n');
  });

  it('reads the prompt from stdin with "-" (one trailing newline dropped)', async () => {
    const a = await quant(['run', stories, '-', '--temp', '0', '-n', '12', '-q'], {
      input: 'Once upon a time\n',
    });
    const b = await quant(['run', stories, 'Once upon a time', '--temp', '0', '-n', '12', '-q']);
    expect(a.code).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    expect(a.stderr).toBe('');
  });
});

describe('quant run on a synthetic model', () => {
  it('the same seed gives the same text; another seed another text', async () => {
    const args = [
      'run',
      small,
      'once upon a time',
      '-n',
      '40',
      '--temp',
      '1.5',
      '--top-k',
      '0',
      '--top-p',
      '1',
      '--min-p',
      '0',
      '-q',
    ];
    const a = await quant([...args, '--seed', '11']);
    const b = await quant([...args, '--seed', '11']);
    const c = await quant([...args, '--seed', '12']);
    expect(a.code).toBe(0);
    expect(a.stdout.length).toBeGreaterThan(10);
    expect(b.stdout).toBe(a.stdout);
    expect(c.stdout).not.toBe(a.stdout);
  });

  it('-n limits the generated tokens; --verbose reports settings and the finish reason', async () => {
    const r = await quant([
      'run',
      small,
      'the cat',
      '-n',
      '7',
      '--temp',
      '0',
      '--verbose',
      '--repeat-penalty',
      '1.1',
    ]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/generation 7 tokens/);
    expect(r.stderr).toMatch(/repeat-penalty 1\.1/);
    expect(r.stderr).toMatch(/finish: length/);
  });

  it('--chat renders the chat template (with --system) before tokenizing', async () => {
    const r = await quant(['run', small, 'hi', '--chat', '--system', 'be brief', '-n', '3', '--verbose']);
    expect(r.code).toBe(0);
    // BOS + the rendered text, tokenized by llama.cpp below (independently of quant).
    const { getLlama } = await import('node-llama-cpp');
    const llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' } as never);
    const model = await llama.loadModel({ modelPath: small, vocabOnly: true } as never);
    const rendered = '<system>be brief</system><user>hi</user><assistant>';
    const expected = 1 + model.tokenize(rendered, false).length;
    await model.dispose();
    expect(r.stderr).toMatch(new RegExp(`^prompt: ${expected} tokens`, 'm'));
  });

  it('--backend wasm runs the same model', async () => {
    const a = await quant(['run', small, 'the dog', '-n', '8', '--temp', '0', '-q', '--backend', 'wasm']);
    const b = await quant(['run', small, 'the dog', '-n', '8', '--temp', '0', '-q', '--backend', 'native']);
    if (a.code !== 0) {
      // The wasm module is built by @quant/kernels; without it the error must be the backend line.
      expect(a.code).toBe(5);
      expect(a.stderr).toMatch(/^quant: error: backend unavailable/m);
      return;
    }
    expect(a.stdout).toBe(b.stdout);
  });

  it('a context that fills up during generation ends it with a note (exit 0)', async () => {
    const r = await quant(['run', small, 'the', '--ctx', '24', '--temp', '0']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/stopped: the 24-token context is full/);
    expect(r.stderr).toMatch(/generation 2[0-3] tokens/);
  });

  it('no colours or progress bars when stdout/stderr are not terminals', async () => {
    const r = await quant(['run', small, 'the', '-n', '4', '--verbose'], {
      env: { NO_COLOR: '', FORCE_COLOR: '' },
    });
    expect(r.code).toBe(0);
    expect(r.stdout + r.stderr).not.toContain('\u001b');
  });

  it('Ctrl-C (SIGINT) stops generation with exit code 130', async () => {
    const r = await quant(['run', small, 'the', '--ctx', '4096', '-q'], { interruptWhen: /\S{3}/ });
    expect(r.code).toBe(130);
  });
});
