// Token texts llama.cpp's vocab loader recognizes by name: end-of-turn, end-of-message, FIM roles and
// the end-of-generation set (src/llama-vocab.cpp, "auto-detect special tokens by text"). Order matters
// where several candidates exist: the first one present is taken.

export const EOT_TEXTS = new Set([
  '<|eot_id|>',
  '<|im_end|>',
  '<|end|>',
  '<end_of_turn>',
  '<|endoftext|>',
  '<|end_of_text|>',
  '<EOT>',
  '_<EOT>',
  '[EOT]',
  '<｜end▁of▁sentence｜>',
  '<end_of_utterance>',
]);
export const EOM_TEXTS = new Set(['<|eom_id|>']);
export const FIM_PRE_TEXTS = new Set([
  '<|fim_prefix|>',
  '<fim-prefix>',
  '<fim_prefix>',
  '<｜fim▁begin｜>',
  '<PRE>',
  '▁<PRE>',
  '<|code_prefix|>',
  '<|prefix|>',
]);
export const FIM_SUF_TEXTS = new Set([
  '<|fim_suffix|>',
  '<fim-suffix>',
  '<fim_suffix>',
  '<｜fim▁hole｜>',
  '<SUF>',
  '▁<SUF>',
  '<|code_suffix|>',
  '<|suffix|>',
]);
export const FIM_MID_TEXTS = new Set([
  '<|fim_middle|>',
  '<fim-middle>',
  '<fim_middle>',
  '<｜fim▁end｜>',
  '<MID>',
  '▁<MID>',
  '<|code_middle|>',
  '<|middle|>',
]);
export const FIM_PAD_TEXTS = new Set(['<|fim_pad|>', '<fim-pad>', '<fim_pad>', '<PAD>', '[PAD]']);
export const FIM_REP_TEXTS = new Set(['<|fim_repo|>', '<|repo_name|>', '<fim-repo>', '<REPO>', '<reponame>']);
export const FIM_SEP_TEXTS = new Set(['<|file_sep|>']);
export const EOG_TEXTS = new Set([
  '<|eot_id|>',
  '<|im_end|>',
  '<|end|>',
  '<|return|>',
  '<|call|>',
  '<|flush|>',
  '<|calls|>',
  '<end_of_turn>',
  '<|endoftext|>',
  '</s>',
  '<|eom_id|>',
  '<EOT>',
  '_<EOT>',
  '[EOT]',
  '[EOS]',
  '<|end_of_text|>',
  '<end_of_utterance>',
  '<eos>',
  '<turn|>',
  '<|tool_response>',
  '<｜end▁of▁sentence｜>',
  '[e~[',
]);
