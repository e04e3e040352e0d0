export { TokenAttr, TokenType } from './attributes.js';
export { StreamDecoder, type StreamDecoderOptions } from './decoder.js';
export { TokenizerError, type TokenizerErrorCode, type TokenizerErrorOptions } from './errors.js';
export { type MetadataLike, specFromGGUF } from './from-gguf.js';
export { type HuggingFaceOptions, specFromHuggingFace } from './from-hf.js';
export { supportedPreTokenizers } from './pretokenizers.js';
export { type DecodeOptions, type EncodeOptions, Tokenizer } from './tokenizer.js';
export { type SpecialTokenIds, Vocab, type VocabSpec, type VocabType } from './vocab.js';
