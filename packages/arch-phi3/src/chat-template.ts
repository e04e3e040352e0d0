/**
 * Phi-3 / Phi-3.5 instruct chat format (the template Microsoft ships with Phi-3.5-mini-instruct):
 * `<|system|>\n…<|end|>\n<|user|>\n…<|end|>\n<|assistant|>\n`. Used only when a GGUF has no
 * `tokenizer.chat_template`. Generation ends at `<|end|>` / `<|endoftext|>` (the tokenizer's
 * end-of-generation set, as llama.cpp detects it from the token texts).
 */
export const PHI3_CHAT_TEMPLATE =
  '{% for message in messages %}' +
  "{% if message['role'] == 'system' and message['content'] %}{{ '<|system|>\\n' + message['content'] + '<|end|>\\n' }}" +
  "{% elif message['role'] == 'user' %}{{ '<|user|>\\n' + message['content'] + '<|end|>\\n' }}" +
  "{% elif message['role'] == 'assistant' %}{{ '<|assistant|>\\n' + message['content'] + '<|end|>\\n' }}{% endif %}" +
  "{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% else %}{{ eos_token }}{% endif %}";
