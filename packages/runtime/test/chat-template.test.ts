import { describe, expect, it } from 'vitest';
import { fallbackTemplate, renderChat } from '../src/chat/render.js';
// Registers the built-in plugins: "phi3" names the arch-phi3 plugin's template.
import '../src/index.js';

// Conversation and expected renderings from llama.cpp's tests/test-chat-template.cpp (its built-in
// formats for Llama 3 and Phi-3, and the Hugging Face Llama-2 Jinja rendering).
const conversation = [
  { role: 'system', content: 'You are a helpful assistant' },
  { role: 'user', content: 'Hello' },
  { role: 'assistant', content: 'Hi there' },
  { role: 'user', content: 'Who are you' },
  { role: 'assistant', content: '   I am an assistant   ' },
  { role: 'user', content: 'Another question' },
];

describe('built-in chat templates', () => {
  it('phi3 (by plugin name: the arch-phi3 plugin supplies it)', () => {
    expect(renderChat('phi3', conversation, { bosToken: '<s>', eosToken: '</s>' })).toBe(
      '<|system|>\nYou are a helpful assistant<|end|>\n<|user|>\nHello<|end|>\n<|assistant|>\nHi there<|end|>\n<|user|>\nWho are you<|end|>\n<|assistant|>\n   I am an assistant   <|end|>\n<|user|>\nAnother question<|end|>\n<|assistant|>\n',
    );
  });
  it('llama3', () => {
    expect(renderChat('llama3', conversation, { bosToken: '' })).toBe(
      '<|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nWho are you<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nI am an assistant<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nAnother question<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n',
    );
  });
  it('llama2', () => {
    expect(renderChat('llama2', conversation, { bosToken: '', eosToken: '</s>' })).toBe(
      '[INST] <<SYS>>\nYou are a helpful assistant\n<</SYS>>\n\nHello [/INST] Hi there </s>[INST] Who are you [/INST] I am an assistant </s>[INST] Another question [/INST]',
    );
  });
  it('renders a custom Jinja template and reports template errors with CHAT_TEMPLATE', () => {
    const t =
      "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}";
    expect(renderChat(t, [{ role: 'user', content: 'hi' }])).toBe('<user>hi<assistant>');
    expect(() => renderChat('{% for %}', [])).toThrow(expect.objectContaining({ code: 'CHAT_TEMPLATE' }));
  });
});

describe('fallback choice for GGUFs without a chat template (and a plugin without one)', () => {
  it('llama3 with <|start_header_id|>, else llama2; nothing architecture-specific in the runtime', () => {
    const vocab =
      (...t: string[]) =>
      (x: string) =>
        t.includes(x);
    expect(fallbackTemplate('llama', vocab('<|start_header_id|>', '<|eot_id|>'))).toBe('llama3');
    expect(fallbackTemplate('llama', vocab('<s>'))).toBe('llama2');
    expect(fallbackTemplate('llama', vocab('<|assistant|>', '<|end|>'))).toBe('llama2');
    expect(fallbackTemplate('phi3', vocab())).toBe('llama2');
  });

  it('an unknown bare template name is an error, not a template that renders as literal text', () => {
    expect(() => renderChat('phi4', [{ role: 'user', content: 'x' }])).toThrow(
      expect.objectContaining({ code: 'CHAT_TEMPLATE', message: expect.stringContaining('"phi4"') }),
    );
  });
});
