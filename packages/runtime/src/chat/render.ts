import { Template } from '@huggingface/jinja';
import { QuantRuntimeError } from '../errors.js';
import { BUILTIN_TEMPLATES, type BuiltinTemplateName } from './builtin-templates.js';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | (string & {});
  content: string;
}

export interface RenderChatOptions {
  bosToken?: string;
  eosToken?: string;
  /** Append the assistant header so the model answers (default true). */
  addGenerationPrompt?: boolean;
  /** Extra variables for the template. */
  variables?: Record<string, unknown>;
}

/** Resolves a template: a built-in name ("llama2" | "llama3" | "phi3") or Jinja source. */
export function templateSource(template: string): string {
  return Object.hasOwn(BUILTIN_TEMPLATES, template)
    ? BUILTIN_TEMPLATES[template as BuiltinTemplateName]
    : template;
}

const cache = new Map<string, Template>();

/** Renders messages with a Jinja chat template (the GGUF's or a built-in) via @huggingface/jinja. */
export function renderChat(
  template: string,
  messages: readonly ChatMessage[],
  o: RenderChatOptions = {},
): string {
  const src = templateSource(template);
  let t = cache.get(src);
  try {
    if (!t) {
      t = new Template(src);
      if (cache.size > 32) cache.clear();
      cache.set(src, t);
    }
    return t.render({
      ...o.variables,
      messages: messages.map((m) => ({ ...m })),
      bos_token: o.bosToken ?? '',
      eos_token: o.eosToken ?? '',
      add_generation_prompt: o.addGenerationPrompt ?? true,
    });
  } catch (e) {
    throw new QuantRuntimeError(
      'CHAT_TEMPLATE',
      `The chat template failed to render: ${(e as Error).message}. Pass { chatTemplate } with a working template or a built-in name (llama2, llama3, phi3).`,
      { cause: e },
    );
  }
}

/**
 * The built-in format to fall back to for a model without `tokenizer.chat_template`: the plugin's
 * own fallback first, else phi3 for phi3 files, llama3 when the vocabulary has
 * `<|start_header_id|>`, else llama2.
 */
export function fallbackTemplate(
  architecture: string,
  hasToken: (text: string) => boolean,
): BuiltinTemplateName {
  if (architecture === 'phi3' || hasToken('<|assistant|>')) return 'phi3';
  if (hasToken('<|start_header_id|>')) return 'llama3';
  return 'llama2';
}
