import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveShared, stories, TempDir } from './helpers/fixtures';
import { runInPty } from './helpers/pty';
import { bin, quant } from './helpers/quant';

let tmp: TempDir;
let model: string;
const TEMPLATE =
  '{% for m in messages %}<{{ m.role }}>{{ m.content }}</{{ m.role }}>{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}';

beforeAll(async () => {
  tmp = new TempDir();
  // Its end-of-text logit is always 0, so answers run until the context is full: time for Ctrl-C.
  model = await tmp.model('chat.gguf', {
    nEmbd: 128,
    nLayers: 2,
    nHeads: 4,
    nKvHeads: 2,
    nFF: 256,
    seed: 5,
    chatTemplate: TEMPLATE,
  });
});
afterAll(() => tmp?.remove());

const havePython = spawnSync('python3', ['-c', 'import pty'], { stdio: 'ignore' }).status === 0;
if (!havePython)
  console.warn(
    '[cli tests] python3 with the pty module not found: the pseudo-terminal chat tests are skipped.',
  );

describe.skipIf(!havePython)('quant chat in a pseudo-terminal', () => {
  it('Ctrl-C stops the answer, not the program; /reset and /exit work', async () => {
    const r = await runInPty(
      [process.execPath, bin, 'chat', model, '--ctx', '4096', '--temp', '1', '--seed', '1'],
      [
        { expect: '>>> ' },
        { send: 'hello there\r' },
        { expect: 'hello there\\r*\\n' },
        { wait_output: 40 }, // the answer is streaming
        { send: '\u0003' }, // Ctrl-C
        { expect: '\\[interrupted\\]' },
        { expect: '>>> ' },
        { send: '\u0003' }, // Ctrl-C at the prompt: a reminder, still running
        { expect: '/exit or press Ctrl-D to quit' },
        { expect: '>>> ' },
        { send: '/reset\r' },
        { expect: 'conversation cleared' },
        { expect: '>>> ' },
        { send: '/exit\r' },
      ],
    );
    expect(r.error, r.transcript).toBeNull();
    expect(r.exit, r.transcript).toBe(0);
  });

  it('Ctrl-D at the prompt quits with exit code 0', async () => {
    const r = await runInPty(
      [process.execPath, bin, 'chat', model, '-n', '4'],
      [{ expect: '>>> ' }, { send: '\u0004' }],
    );
    expect(r.error, r.transcript).toBeNull();
    expect(r.exit).toBe(0);
  });

  it.skipIf(!haveShared)('keeps the history over turns (stories260K, greedy)', async () => {
    const r = await runInPty(
      [process.execPath, bin, 'chat', stories, '--temp', '0', '-n', '12', '--verbose'],
      [
        { expect: '>>> ' },
        { send: 'Once upon a time\r' },
        { expect: 'generation \\d+ tokens' },
        { expect: '>>> ' },
        { send: 'Tell me more\r' },
        { expect: 'generation \\d+ tokens' },
        { expect: '>>> ' },
        { send: '/exit\r' },
      ],
    );
    expect(r.error, r.transcript).toBeNull();
    expect(r.exit).toBe(0);
    // Turn 2 evaluates only what is new since turn 1 (the KV cache holds the history).
    const prompts = [...r.transcript.matchAll(/prompt (\d+) tokens?/g)].map((m) => Number(m[1]));
    expect(prompts.length).toBe(2);
    expect(prompts[0]).toBeGreaterThan(5);
  });
});

describe('quant chat without a terminal', () => {
  it('reads turns from piped stdin', async () => {
    const r = await quant(['chat', model, '-n', '5', '--temp', '0', '--verbose'], {
      input: 'hi\n/reset\nhello\n/exit\n',
    });
    expect(r.code).toBe(0);
    expect([...r.stderr.matchAll(/generation 5 tokens/g)].length).toBe(2);
    expect(r.stderr).toMatch(/conversation cleared/);
  });
});
