// The public Tokenizer: encode / decode / streaming decode over a Vocab, with llama.cpp's rules.

import type { GGUFFile } from '@quant/gguf';
import { BpeSession } from './bpe.js';
import { detokenizeBytes, PieceCache, StreamDecoder, type StreamDecoderOptions } from './decoder.js';
import { TokenizerError } from './errors.js';
import { specFromGGUF } from './from-gguf.js';
import { type HuggingFaceOptions, specFromHuggingFace } from './from-hf.js';
import { partition } from './special-tokens.js';
import { SpmSession } from './spm.js';
import { binaryToCodepointString, bytesToBinary, stringToBinary, utf8ToString } from './utf8.js';
import { Vocab, type VocabSpec, type VocabType } from './vocab.js';
import { wpmTokenize } from './wpm.js';

export interface EncodeOptions {
  /**
   * Add the BOS token (and the model's other automatic specials: EOS when `add_eos_token`, BERT's
   * [SEP]). Default: the model's rule (`tokenizer.ggml.add_bos_token`, else the family default).
   * `true` adds BOS even when the model would not; `false` adds no automatic special token at all.
   * A BOS is never added when the encoded text already starts with BOS (parsed from special text).
   */
  addBos?: boolean;
  /** Add EOS at the end. Default: the model's `add_eos_token` rule, unless `addBos` is false. */
  addEos?: boolean;
  /**
   * Match control tokens (`<s>`, `<|user|>`, `<|eot_id|>` …) written in the text. Default false: such
   * text is tokenized as ordinary text. User-defined tokens are always matched, as in llama.cpp.
   */
  parseSpecial?: boolean;
}

export interface DecodeOptions {
  /**
   * Render control and unknown tokens (BOS, EOS, `<|end|>` …) as nothing. Default false: they are
   * rendered as their text, like llama.cpp's detokenize with `unparse_special`.
   */
  skipSpecial?: boolean;
  /**
   * llama.cpp's `remove_special`: drop a leading BOS / trailing EOS when the model adds them
   * automatically. Default false (what node-llama-cpp's `detokenize` does).
   */
  removeBosEos?: boolean;
}

/** Text ⇄ token ids exactly as llama.cpp tokenizes for the same GGUF. */
export class Tokenizer {
  /** The vocabulary and every flag derived from the metadata. */
  readonly vocab: Vocab;
  private readonly pieces: PieceCache;
  private spm: SpmSession | null = null;
  private bpe: BpeSession | null = null;

  constructor(spec: VocabSpec) {
    this.vocab = new Vocab(spec);
    this.pieces = new PieceCache(this.vocab);
  }

  /** Build from a parsed GGUF file (only `file.metadata` is read). */
  static fromGGUF(file: Pick<GGUFFile, 'metadata'>): Tokenizer {
    return new Tokenizer(specFromGGUF(file.metadata));
  }

  /** Build from a Hugging Face `tokenizer.json` (object or JSON text). */
  static fromHuggingFace(tokenizerJson: unknown, options: HuggingFaceOptions = {}): Tokenizer {
    return new Tokenizer(specFromHuggingFace(tokenizerJson, options));
  }

  /** 'spm' (SentencePiece, `llama`), 'bpe' (byte-level BPE, `gpt2`) or 'wpm' (WordPiece, `bert`). */
  get type(): VocabType {
    return this.vocab.type;
  }
  get vocabSize(): number {
    return this.vocab.size;
  }
  get bosId(): number | null {
    return this.vocab.bos;
  }
  get eosId(): number | null {
    return this.vocab.eos;
  }
  /** End-of-turn token (explicit metadata, else auto-detected from its text), or null. */
  get eotId(): number | null {
    return this.vocab.eot;
  }
  get unkId(): number | null {
    return this.vocab.unk;
  }
  get sepId(): number | null {
    return this.vocab.sep;
  }
  get padId(): number | null {
    return this.vocab.pad;
  }
  /** Every token that ends generation (eos, eot, eom, `<|end|>`, `<|endoftext|>`, `<|eot_id|>` …). */
  get eogIds(): ReadonlySet<number> {
    return this.vocab.eogIds;
  }
  /** Whether encode() adds BOS by default. */
  get addBos(): boolean {
    return this.vocab.addBos;
  }
  /** Whether encode() adds EOS by default. */
  get addEos(): boolean {
    return this.vocab.addEos;
  }
  /** Whether SPM text gets a leading space (`tokenizer.ggml.add_space_prefix`). */
  get addSpacePrefix(): boolean {
    return this.vocab.addSpacePrefix;
  }

  isEog(id: number): boolean {
    return this.vocab.eogIds.has(id);
  }

  /** The token's text as stored in the vocabulary (e.g. "▁Hello", "Ġworld", "<0x0A>"). */
  tokenText(id: number): string {
    this.checkId(id);
    return this.vocab.tokens[id]!;
  }

  /** The token's attribute bits (see `TokenAttr`). */
  tokenAttr(id: number): number {
    this.checkId(id);
    return this.vocab.attrs[id]!;
  }

  /** The id of a token text, or undefined. */
  tokenId(text: string): number | undefined {
    return this.vocab.textToId.get(text);
  }

  /**
   * The bytes this token stands for (llama.cpp's token_to_piece). Control/unknown tokens give their
   * text unless `special` is false. A byte token is one byte, possibly half of a UTF-8 character.
   */
  tokenToBytes(id: number, special = true): Uint8Array {
    this.checkId(id);
    return this.pieces.get(id, special);
  }

  /** tokenToBytes as a string (an incomplete UTF-8 sequence shows as U+FFFD). */
  tokenToPiece(id: number, special = true): string {
    return utf8ToString(this.tokenToBytes(id, special));
  }

  /**
   * Text → token ids. `text` may be a string (lone surrogates count as U+FFFD) or raw UTF-8 bytes
   * (invalid sequences are handled as llama.cpp handles them).
   */
  encode(text: string | Uint8Array, options: EncodeOptions = {}): number[] {
    let bin: string;
    if (typeof text === 'string') bin = stringToBinary(text);
    else if (text instanceof Uint8Array) bin = bytesToBinary(text);
    else
      throw new TokenizerError(
        'TOKENIZER_INVALID_ARGUMENT',
        `encode() expects a string or a Uint8Array, got ${text === null ? 'null' : typeof text}`,
      );
    const v = this.vocab;
    const fragments = partition(bin, v.specialTokens, options.parseSpecial === true);
    const addSpecial = options.addBos !== false;
    // llama.cpp's WordPiece path adds [CLS] … [SEP] whenever add_special is on, whatever add_bos says
    const addBos = options.addBos ?? (v.type === 'wpm' ? true : v.addBos);
    const addEos = options.addEos ?? (addSpecial && v.addEos);
    const out: number[] = [];

    if (v.type === 'spm') {
      if (this.spm === null) this.spm = new SpmSession(v);
      const session = this.spm;
      let prevSpecial = true;
      for (const f of fragments) {
        if ('token' in f) {
          out.push(f.token);
          prevSpecial = true;
          continue;
        }
        let s = bin.substring(f.start, f.end);
        if (v.addSpacePrefix && prevSpecial) s = ` ${s}`;
        session.tokenize(s.replace(/ /g, '\xe2\x96\x81'), out);
        prevSpecial = false;
      }
    } else if (v.type === 'bpe') {
      if (this.bpe === null) this.bpe = new BpeSession(v);
      const session = this.bpe;
      for (const f of fragments) {
        if ('token' in f) out.push(f.token);
        else session.tokenize(binaryToCodepointString(bin, f.start, f.end), out);
      }
    } else {
      for (const f of fragments) {
        if ('token' in f) out.push(f.token);
        else wpmTokenize(v, binaryToCodepointString(bin, f.start, f.end), out);
      }
    }

    if (addBos && v.bos !== null && out[0] !== v.bos) out.unshift(v.bos);
    if (v.type === 'wpm') {
      if ((options.addEos ?? addSpecial) && v.sep !== null) out.push(v.sep);
    } else if (addEos && v.eos !== null) {
      out.push(v.eos);
    }
    return out;
  }

  /** Token ids → text (llama.cpp's detokenize; invalid UTF-8 in the bytes shows as U+FFFD). */
  decode(ids: ArrayLike<number>, options: DecodeOptions = {}): string {
    return utf8ToString(this.decodeBytes(ids, options));
  }

  /** Token ids → the exact UTF-8 bytes llama.cpp's detokenize produces. */
  decodeBytes(ids: ArrayLike<number>, options: DecodeOptions = {}): Uint8Array {
    if (ids === null || typeof ids !== 'object' || typeof ids.length !== 'number') {
      throw new TokenizerError('TOKENIZER_INVALID_ARGUMENT', 'decode() expects an array of token ids');
    }
    for (let i = 0; i < ids.length; i++) this.checkId(ids[i]!);
    return detokenizeBytes(
      this.vocab,
      this.pieces,
      ids,
      options.removeBosEos === true,
      options.skipSpecial !== true,
    );
  }

  /** A streaming decoder: `push(id)` returns only complete characters; `flush()` returns the rest. */
  createDecoder(options: StreamDecoderOptions = {}): StreamDecoder {
    return new StreamDecoder(this.pieces, (id) => this.checkId(id), options, this.vocab.addSpacePrefix);
  }

  private checkId(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocab.size) {
      throw new TokenizerError(
        'TOKENIZER_INVALID_TOKEN_ID',
        `token id ${String(id)} is not in this vocabulary (valid ids are 0..${this.vocab.size - 1})`,
        { tokenId: typeof id === 'number' ? id : undefined },
      );
    }
  }
}
