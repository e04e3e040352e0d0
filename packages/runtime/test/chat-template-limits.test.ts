/**
 * Issue 12: chat templates come from downloaded GGUF files, so they render with budgets (steps,
 * time, string length and total text, list size). `{% for i in range(100000000) %}` took model.chat
 * to 3 GB in 30 s; now every hostile template below fails fast with TEMPLATE_LIMIT naming the
 * limit and how to raise it. Ordinary templates render exactly as @huggingface/jinja's own
 * Template.render renders them (the reference here).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Template } from '@huggingface/jinja';
import { PHI3_CHAT_TEMPLATE } from '@quant/arch-phi3';
import { writeSyntheticLlama } from '@quant/test-utils';
import { afterAll, describe, expect, it } from 'vitest';
import { LLAMA2_TEMPLATE, LLAMA3_TEMPLATE, loadModel, renderChat, TemplateLimitError } from '../src/index.js';
import { TINY } from './helpers/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'quant-template-limits-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const conversation = [
  { role: 'system', content: 'You are a helpful assistant' },
  { role: 'user', content: 'Hello' },
  { role: 'assistant', content: 'Hi there' },
  { role: 'user', content: 'Who are you' },
];

/** Renders and returns the error, the time taken and the heap growth. */
function attempt(template: string, messages = conversation, limits?: object) {
  const heap0 = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  let error: unknown;
  try {
    renderChat(template, messages, limits ? { limits } : {});
  } catch (e) {
    error = e;
  }
  return { error, ms: performance.now() - t0, heapGrowth: process.memoryUsage().heapUsed - heap0 };
}

function expectLimit(error: unknown, limit: string): void {
  expect(error).toBeInstanceOf(TemplateLimitError);
  const e = error as TemplateLimitError;
  expect(e.code).toBe('TEMPLATE_LIMIT');
  expect(e.limit).toBe(limit);
  expect(e.message).toContain(`${limit} limit`);
  expect(e.message).toContain(`templateLimits: { ${limit}:`);
}

const MiB = 1024 * 1024;

describe('hostile templates fail fast with TEMPLATE_LIMIT', () => {
  it('range(100000000): refused before the list is built', () => {
    const r = attempt('{% for i in range(100000000) %}x{% endfor %}');
    expectLimit(r.error, 'maxItems');
    expect((r.error as Error).message).toContain('range() was asked for 100000000 numbers');
    // Bounded, not a benchmark: the unbounded render ran for 30 s.
    expect(r.ms).toBeLessThan(5000);
    expect(r.heapGrowth).toBeLessThan(64 * MiB);
  });

  it('nested loops (10^10 iterations): the step budget', () => {
    const r = attempt('{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}');
    expectLimit(r.error, 'maxSteps');
  });

  it('exponential recursion through a macro: the step budget', () => {
    const r = attempt(
      '{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(60) }}',
    );
    expectLimit(r.error, 'maxSteps');
  });

  it('a string doubled 40 times: the string-length budget', () => {
    const r = attempt(
      "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s }}",
    );
    expectLimit(r.error, 'maxOutputChars');
    expect(r.heapGrowth).toBeLessThan(256 * MiB);
  });

  it('a loop that accumulates 2·10^8 characters of output: the total-text budget', () => {
    const big = [{ role: 'user', content: 'y'.repeat(10_000) }];
    const r = attempt('{% for i in range(20000) %}{{ messages[0].content }}{% endfor %}', big);
    expectLimit(r.error, 'maxOutputChars');
    expect((r.error as Error).message).toMatch(/in total/);
    expect(r.heapGrowth).toBeLessThan(512 * MiB);
  });

  it('the time budget (with the step budget lifted)', () => {
    const r = attempt(
      '{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}',
      conversation,
      {
        maxSteps: Number.POSITIVE_INFINITY,
        timeoutMs: 100,
      },
    );
    expectLimit(r.error, 'timeoutMs');
  });

  it('model.chat with the hostile template embedded in the GGUF (the issue’s reproduction)', async () => {
    const p = join(dir, 'hostile.gguf');
    await writeSyntheticLlama(p, { ...TINY, chatTemplate: '{% for i in range(100000000) %}x{% endfor %}' });
    const model = await loadModel(p, { contextSize: 64 });
    try {
      expect(() => model.chat([{ role: 'user', content: 'hi' }], { maxTokens: 1 })).toThrow(
        TemplateLimitError,
      );
      // A caller who trusts a big template raises the limit it names.
      const bigLoop = '{% for i in range(100001) %}{% endfor %}{{ messages[0].content }}';
      expect(() => model.renderChat([{ role: 'user', content: 'ok' }], { chatTemplate: bigLoop })).toThrow(
        expect.objectContaining({ code: 'TEMPLATE_LIMIT', limit: 'maxItems' }),
      );
      expect(
        model.renderChat([{ role: 'user', content: 'ok' }], {
          chatTemplate: bigLoop,
          templateLimits: { maxItems: 150_000, maxSteps: 400_000 },
        }),
      ).toBe('ok');
      expect(() =>
        model.renderChat([{ role: 'user', content: 'ok' }], { templateLimits: { maxSteps: -1 } }),
      ).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
    } finally {
      model.dispose();
    }
  });
});

describe('ordinary templates render as @huggingface/jinja renders them', () => {
  const vars = { bos_token: '<s>', eos_token: '</s>', add_generation_prompt: true };
  const templates: [string, string][] = [
    ['llama2', LLAMA2_TEMPLATE],
    ['llama3', LLAMA3_TEMPLATE],
    ['phi3 (plugin)', PHI3_CHAT_TEMPLATE],
    [
      'macros, namespace, loop variables, filters, slices, tests',
      '{%- macro tag(r) -%}<{{ r | upper }}>{%- endmacro -%}{% set ns = namespace(n=0) %}' +
        '{% for m in messages[1:] if m.role != "system" %}{% set ns.n = ns.n + m.content | length %}' +
        '{{ loop.index }}/{{ loop.length }}{{ tag(m.role) }}{{ m.content | trim | replace("o", "0") }}' +
        '{% if not loop.last %}|{% endif %}{% endfor %}{{ ns.n }}{{ messages | map(attribute="role") | join(",") }}' +
        '{% if messages[0].content is string %}!{% endif %}{{ range(3) | list | tojson }}{{ bos_token ~ eos_token }}',
    ],
  ];
  for (const [name, src] of templates) {
    it(name, () => {
      const expected = new Template(src).render({ ...vars, messages: conversation });
      expect(renderChat(src, conversation, { bosToken: '<s>', eosToken: '</s>' })).toBe(expected);
    });
  }

  it('raise_exception() in a template is a CHAT_TEMPLATE error with its message', () => {
    expect(() =>
      renderChat("{{ raise_exception('Only user and assistant roles are supported') }}", conversation),
    ).toThrow(
      expect.objectContaining({
        code: 'CHAT_TEMPLATE',
        message: expect.stringContaining('Only user and assistant'),
      }),
    );
  });
});
