/**
 * Generic chat formats used when a GGUF has no `tokenizer.chat_template` and its architecture plugin
 * supplies none (architecture-specific formats, e.g. Phi-3's, live in their plugins), written as Jinja so they go
 * through the same renderer as embedded templates. Variables: messages, bos_token, eos_token,
 * add_generation_prompt.
 */

/** Llama 2 chat: `<s>[INST] <<SYS>>\n…\n<</SYS>>\n\n… [/INST] answer </s>`. */
export const LLAMA2_TEMPLATE =
  "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}" +
  '{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}' +
  '{% for message in loop_messages %}' +
  "{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}" +
  "{% else %}{% set content = message['content'] %}{% endif %}" +
  "{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}" +
  "{% elif message['role'] == 'assistant' %}{{ ' ' + content.strip() + ' ' + eos_token }}{% endif %}" +
  '{% endfor %}';

/** Llama 3 instruct: header ids and `<|eot_id|>`. */
export const LLAMA3_TEMPLATE =
  '{{ bos_token }}{% for message in messages %}' +
  "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}" +
  "{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";

export const BUILTIN_TEMPLATES = {
  llama2: LLAMA2_TEMPLATE,
  llama3: LLAMA3_TEMPLATE,
} as const;
export type BuiltinTemplateName = keyof typeof BUILTIN_TEMPLATES;
