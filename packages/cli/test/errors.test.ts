import { writeFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../src/exit-codes';
import { SMALL, TempDir } from './helpers/fixtures';
import { quant } from './helpers/quant';
import { writeHugeSparseModel } from './helpers/synthetic';

let tmp: TempDir;
let small: string;
beforeAll(async () => {
  tmp = new TempDir();
  small = await tmp.model('small.gguf', SMALL);
});
afterAll(() => tmp?.remove());

/** Exactly one line on stderr, starting with "quant: error:". */
function oneErrorLine(stderr: string): string {
  const lines = stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('loaded '));
  expect(lines, stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^quant: error: /);
  return lines[0] as string;
}

describe('errors a user meets: one line, documented exit code', () => {
  it('missing model file', async () => {
    for (const cmd of [['run'], ['chat'], ['bench'], ['perplexity', '-f', small]] as string[][]) {
      const [name, ...rest] = cmd;
      const r = await quant([name as string, tmp.file('nope.gguf'), ...rest]);
      expect(r.code, `${name}: ${r.stderr}`).toBe(EXIT.NOT_FOUND);
      expect(oneErrorLine(r.stderr)).toContain('nope.gguf');
    }
    const i = await quant(['inspect', tmp.file('nope.gguf')]);
    expect(i.code).toBe(EXIT.NOT_FOUND);
    const q = await quant(['quantize', tmp.file('nope.gguf'), tmp.file('out.gguf'), 'Q8_0']);
    expect(q.code).toBe(EXIT.NOT_FOUND);
    oneErrorLine(q.stderr);
  });

  it('a directory instead of a file', async () => {
    const r = await quant(['run', tmp.path, 'x']);
    expect(r.code).toBe(EXIT.NOT_FOUND);
    expect(oneErrorLine(r.stderr)).toMatch(/not a file/);
  });

  it('not a GGUF file', async () => {
    const txt = tmp.file('notes.gguf');
    writeFileSync(txt, 'this is plain text, not a model\n'.repeat(10));
    for (const args of [
      ['run', txt, 'x'],
      ['inspect', txt],
      ['quantize', txt, tmp.file('o.gguf'), 'Q8_0', '--dry-run'],
    ]) {
      const r = await quant(args);
      expect(r.code, r.stderr).toBe(EXIT.BAD_FILE);
      expect(oneErrorLine(r.stderr)).toMatch(/not a GGUF file/);
    }
  });

  it('a truncated GGUF', async () => {
    const { readFileSync } = await import('node:fs');
    const cut = tmp.file('cut.gguf');
    writeFileSync(cut, readFileSync(small).subarray(0, 300));
    const r = await quant(['run', cut, 'x']);
    expect(r.code, r.stderr).toBe(EXIT.BAD_FILE);
    expect(oneErrorLine(r.stderr)).toMatch(/invalid GGUF/);
  });

  it('unsupported architecture, listing the installed plugins', async () => {
    const m = await tmp.model('gptx.gguf', { ...SMALL, arch: 'gptx' });
    const r = await quant(['run', m, 'x']);
    expect(r.code).toBe(EXIT.UNSUPPORTED);
    const line = oneErrorLine(r.stderr);
    expect(line).toMatch(/unsupported architecture "gptx"/);
    expect(line).toMatch(/installed architecture plugins: .*llama/);
    expect(line).toMatch(/phi3/);
  });

  it('a model larger than memory', async () => {
    const huge = tmp.file('huge.gguf');
    writeHugeSparseModel(huge, totalmem() * 1.25);
    const r = await quant(['run', huge, 'x']);
    expect(r.code, r.stderr).toBe(EXIT.NO_MEMORY);
    expect(oneErrorLine(r.stderr)).toMatch(/needs about .* but this machine has .* of memory/);
  });

  it('a prompt that does not fit the context', async () => {
    const r = await quant(['run', small, 'the cat and the dog '.repeat(20), '--ctx', '16']);
    expect(r.code).toBe(EXIT.CONTEXT);
    expect(oneErrorLine(r.stderr)).toMatch(/the prompt is \d+ tokens but the context holds 16/);
  });

  it('a perplexity text too short for the context', async () => {
    const txt = tmp.file('short.txt');
    writeFileSync(txt, 'once upon a time');
    const r = await quant(['perplexity', small, '-f', txt, '--ctx', '64']);
    expect(r.code).toBe(EXIT.CONTEXT);
    expect(oneErrorLine(r.stderr)).toMatch(/needs at least 128/);
  });

  it('bad flags and commands are usage errors (exit 2)', async () => {
    expect((await quant(['run', small, 'x', '--temp', 'hot'])).code).toBe(EXIT.USAGE);
    expect((await quant(['run', small, 'x', '--backend', 'gpu'])).code).toBe(EXIT.USAGE);
    expect((await quant(['run', small, 'x', '--top-p', '2'])).code).toBe(EXIT.USAGE);
    expect((await quant(['frobnicate'])).code).toBe(EXIT.USAGE);
    expect((await quant(['run'])).code).toBe(EXIT.USAGE);
    expect((await quant([])).code).toBe(EXIT.USAGE);
    expect((await quant(['perplexity', small])).code).toBe(EXIT.USAGE); // -f is required
    const q = await quant(['quantize', small, tmp.file('o.gguf'), 'Q9_X']);
    expect(q.code).toBe(EXIT.USAGE);
    expect(oneErrorLine(q.stderr)).toMatch(/unknown quantization type "Q9_X"; use one of Q8_0, Q4_0/);
  });

  it('--help and --version exit 0', async () => {
    const h = await quant(['--help']);
    expect(h.code).toBe(0);
    for (const c of ['run', 'chat', 'inspect', 'perplexity', 'bench', 'quantize'])
      expect(h.stdout).toContain(c);
    const v = await quant(['--version']);
    expect(v.code).toBe(0);
    expect(v.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    const rh = await quant(['run', '--help']);
    for (const f of [
      '--max-tokens',
      '--temp',
      '--top-k',
      '--top-p',
      '--min-p',
      '--repeat-penalty',
      '--seed',
      '--ctx',
      '--threads',
      '--backend',
      '--chat',
      '--system',
      '--stop',
    ]) {
      expect(rh.stdout).toContain(f);
    }
  });
});
