export { Tokenizer, type EncodeOptions, type DecodeOptions } from './tokenizer.js';
export { StreamDecoder, type StreamDecoderOptions } from './decoder.js';
export { TokenizerError, type TokenizerErrorCode, type TokenizerErrorOptions } from './errors.js';
export { TokenAttr, TokenType } from './attributes.js';
export { Vocab, type VocabSpec, type VocabType, type SpecialTokenIds } from './vocab.js';
export { specFromGGUF, type MetadataLike } from './from-gguf.js';
export { specFromHuggingFace, type HuggingFaceOptions } from './from-hf.js';
export { supportedPreTokenizers } from './pretokenizers.js';
