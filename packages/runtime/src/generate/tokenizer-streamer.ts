import type { Tokenizer } from '@quant/tokenizer';
import type { TextStreamer } from './text-streamer.js';

/**
 * Text of generated tokens, piece by piece as llama.cpp's token_to_piece renders them (no leading
 * space is dropped mid-text), control tokens rendered as nothing, whole UTF-8 characters only.
 */
export function tokenizerStreamer(tok: Tokenizer, _context: readonly number[]): TextStreamer {
  return tok.createDecoder({ skipSpecial: true });
}
