import type { GGUFFile } from '@quant/gguf';
import type { Kernels } from '@quant/kernels';
import type { AnyArchitecturePlugin, BaseHyperparameters } from '@quant/plugin-api';
import type { Tokenizer } from '@quant/tokenizer';
import { type ChatMessage, fallbackTemplate, renderChat, type TemplateLimits } from '../chat/render.js';
import { QuantRuntimeError, SessionFileError } from '../errors.js';
import { GenerationStream } from '../generate/generation.js';
import type { GenerateOptions } from '../generate/options.js';
import { tokenizerStreamer } from '../generate/tokenizer-streamer.js';
import { validateGenerateArguments } from '../generate/validate.js';
import type { ModelCore } from './core.js';
import { kvLayout } from './kv-layout.js';
import { KvPool, type KvPoolStats } from './kv-pool.js';
import { type KVTypeOption, kvTypeName, parseKvType } from './kv-type.js';
import { kvCacheBytes } from './memory.js';
import { type BatchStats, Scheduler } from './scheduler.js';
import { Session, type SessionOptions } from './session.js';
import { openSessionFile } from './session-file.js';
import type { LoadedWeights } from './weights.js';

export interface ChatOptions extends Omit<GenerateOptions, 'addBos' | 'parseSpecial'> {
  /** A Jinja template, a built-in name ("llama2" | "llama3") or a plugin's name ("phi3"); default: the GGUF's, else the plugin's, else a built-in. */
  chatTemplate?: string;
  /** Extra variables for the template. */
  templateVariables?: Record<string, unknown>;
  /** Rendering budgets of the chat template (steps, time, output length, list size); see TemplateLimits. */
  templateLimits?: TemplateLimits;
}

/** @internal what loadModel hands to the Model constructor */
export interface ModelParts {
  file: GGUFFile;
  architecture: string;
  plugin: AnyArchitecturePlugin;
  hparams: BaseHyperparameters;
  kernels: Kernels;
  ownsKernels: boolean;
  weights: LoadedWeights;
  tokenizer: Tokenizer;
  contextSize: number;
  batchSize: number;
  kvType: KVTypeOption;
  flashAttention: boolean;
  architectureOptions: Record<string, unknown>;
  /** Most sequences in one forward pass (continuous batching). */
  maxSequences: number;
  /** Most disposed sessions' KV caches kept for reuse. */
  kvPool: number;
  /** Most prompt tokens of one sequence per forward pass while others generate. */
  promptChunk: number;
  /** For messages: the file or URL the model came from. */
  where: string;
}

/** A loaded model: weights in kernel memory, its tokenizer, and factories for sessions and generations. */
export class Model {
  /** `general.architecture` of the file. */
  readonly architecture: string;
  /** The plugin running it. */
  readonly plugin: AnyArchitecturePlugin;
  /** Hyperparameters as the plugin read them. */
  readonly hparams: BaseHyperparameters;
  readonly tokenizer: Tokenizer;
  readonly kernels: Kernels;
  /** The parsed GGUF (metadata and tensor table). */
  readonly file: GGUFFile;
  /** Default context size of new sessions. */
  readonly contextSize: number;
  readonly batchSize: number;
  readonly kvType: KVTypeOption;
  /** Default attention path of new sessions (see LoadModelOptions.flashAttention). */
  readonly flashAttention: boolean;
  private readonly parts: ModelParts;
  private readonly sessions = new Set<Session>();
  private disposed = false;
  private readonly core: ModelCore;

  /** @internal use loadModel() */
  constructor(parts: ModelParts) {
    this.parts = parts;
    this.architecture = parts.architecture;
    this.plugin = parts.plugin;
    this.hparams = parts.hparams;
    this.tokenizer = parts.tokenizer;
    this.kernels = parts.kernels;
    this.file = parts.file;
    this.contextSize = parts.contextSize;
    this.batchSize = parts.batchSize;
    this.kvType = parts.kvType;
    this.flashAttention = parts.flashAttention;
    const kv = kvLayout(parts.plugin, parts.hparams, parts.where);
    const core: ModelCore = {
      kernels: parts.kernels,
      plugin: parts.plugin,
      hparams: parts.hparams,
      weights: parts.weights,
      architectureOptions: parts.architectureOptions,
      kv,
      layerMap: kv.layerMap,
      scheduler: undefined as unknown as Scheduler,
      kvPool: new KvPool(parts.kvPool),
      assertAlive: () => this.assertAlive(),
      file: parts.file,
      architecture: parts.architecture,
    };
    core.scheduler = new Scheduler(core, {
      batchSize: parts.batchSize,
      maxSequences: parts.maxSequences,
      promptChunk: parts.promptChunk,
    });
    this.core = core;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Continuous-batching counters: forward passes, rows, most sequences in one pass, pending evaluations. */
  get batchStats(): BatchStats {
    return this.core.scheduler.stats;
  }

  /** The KV caches of disposed sessions kept for new sessions (LoadModelOptions.kvPool). */
  get kvPool(): KvPoolStats {
    return this.core.kvPool.stats;
  }

  /** Frees the KV caches kept for reuse (once no forward pass runs); resolves with the bytes freed. */
  trimKvPool(): Promise<number> {
    return new Promise((resolve) => this.core.scheduler.whenIdle(() => resolve(this.core.kvPool.clear())));
  }

  /**
   * Bytes one session's KV cache takes: the plugin's memory layout (layers without KV take none)
   * in the stored cache types (default: the model's `contextSize` and `kvType`).
   */
  sessionKvBytes(contextSize: number = this.contextSize, kvType: KVTypeOption = this.kvType): number {
    return kvCacheBytes(this.core.kv, contextSize, parseKvType(kvType));
  }

  private assertAlive(): void {
    if (this.disposed)
      throw new QuantRuntimeError('DISPOSED', 'This model was disposed; load it again with loadModel().');
  }

  /** A new, independent session (KV cache) of `contextSize` tokens. */
  createSession(options: SessionOptions = {}): Session {
    this.assertAlive();
    const s = new Session(
      this.core,
      {
        contextSize: options.contextSize ?? this.contextSize,
        batchSize: options.batchSize ?? this.batchSize,
        kvType: options.kvType ?? this.kvType,
        flashAttention: options.flashAttention ?? this.flashAttention,
        architectureOptions: { ...this.parts.architectureOptions, ...options.architectureOptions },
      },
      (x) => this.sessions.delete(x),
    );
    this.sessions.add(s);
    return s;
  }

  /**
   * A session restored from a file `session.save()` wrote with this model: the same tokens, KV
   * cache (types and bytes) and context size, so evaluation continues with identical logits.
   * Throws SessionFileError for a file of another model, a newer format, a truncated or corrupted
   * file; and for `options.kvType` other than the file's. Node only.
   */
  async restoreSession(
    path: string,
    options: Omit<SessionOptions, 'kvType' | 'contextSize'> & { kvType?: KVTypeOption } = {},
  ): Promise<Session> {
    this.assertAlive();
    const r = await openSessionFile(path, {
      file: this.file,
      architecture: this.architecture,
      kv: this.core.kv,
      nVocab: this.hparams.nVocab,
    });
    let s: Session | undefined;
    try {
      if (options.kvType !== undefined) {
        const want = parseKvType(options.kvType);
        if (want.k !== r.header.kvType.k || want.v !== r.header.kvType.v)
          throw new SessionFileError(
            path,
            'MODEL_MISMATCH',
            `the session was saved with a ${kvTypeName(r.header.kvType)} KV cache, not ${kvTypeName(want)}; restore it without kvType or save it again`,
          );
      }
      s = this.createSession({ ...options, contextSize: r.header.contextSize, kvType: r.header.kvType });
      if (s.cache.rotation.k !== r.header.rotation.k || s.cache.rotation.v !== r.header.rotation.v)
        throw new SessionFileError(path, 'MODEL_MISMATCH', 'the session was saved with another KV rotation');
      const n = r.tokens.length;
      const cache = s.cache;
      // Layer by layer from the file (a 32K-token q4_0 Phi-3.5 session is 3.6 GB); the SHA-256 is
      // checked after the last layer, before the session is handed out.
      // Writes wait for a gap between forward passes of the model's other sessions.
      const scheduler = this.core.scheduler;
      await r.readRows(
        (l, k, v) =>
          new Promise<void>((resolve, reject) =>
            scheduler.whenIdle(() => {
              try {
                cache.writeRows(l, 'k', n, k);
                cache.writeRows(l, 'v', n, v);
                resolve();
              } catch (e) {
                reject(e);
              }
            }),
          ),
        (state) =>
          new Promise<void>((resolve, reject) =>
            scheduler.whenIdle(() => {
              try {
                cache.writeState(state);
                resolve();
              } catch (e) {
                reject(e);
              }
            }),
          ),
      );
      s.commit(r.tokens);
      return s;
    } catch (e) {
      await r.close();
      s?.dispose();
      throw e;
    }
  }

  /** Tokenizes a prompt as generate() does. */
  tokenize(text: string, options: { addBos?: boolean; parseSpecial?: boolean } = {}): number[] {
    const o: { addBos?: boolean; parseSpecial?: boolean } = { parseSpecial: options.parseSpecial ?? false };
    if (options.addBos !== undefined) o.addBos = options.addBos;
    return Array.from(this.tokenizer.encode(text, o));
  }

  /**
   * Streams generated text for a prompt (a string, tokenized with BOS per the tokenizer's setting,
   * or token ids used as given). Ends at an end-of-generation token, a stop string, `maxTokens`, or
   * abort; a full context throws ContextFullError unless `contextShift` is set.
   */
  generate(prompt: string | ArrayLike<number>, options: GenerateOptions = {}): GenerationStream {
    this.assertAlive();
    validateGenerateArguments(prompt, options, this.hparams.nVocab);
    const tokens =
      typeof prompt === 'string'
        ? this.tokenize(prompt, {
            ...(options.addBos !== undefined ? { addBos: options.addBos } : {}),
            parseSpecial: options.parseSpecial ?? false,
          })
        : Array.from(prompt);
    const tok = this.tokenizer;
    const eog = new Set<number>(options.replaceEog ? [] : tok.eogIds);
    if (!options.replaceEog) {
      for (const text of this.plugin.endOfGenerationTokens ?? []) {
        const id = tok.tokenId(text);
        if (id !== undefined) eog.add(id);
      }
    }
    for (const t of options.eogTokens ?? []) eog.add(t);
    const given = options.session;
    if (given?.isDisposed)
      throw new QuantRuntimeError('DISPOSED', 'The session passed to generate() was disposed.');
    if (given && !this.sessions.has(given))
      throw new QuantRuntimeError(
        'INVALID_OPTION',
        'The session passed to generate() belongs to another model.',
      );
    const sessionOptions = options.contextSize !== undefined ? { contextSize: options.contextSize } : {};
    return new GenerationStream(
      {
        openSession: () =>
          given
            ? { session: given, owned: false }
            : { session: this.createSession(sessionOptions), owned: true },
        prompt: tokens,
        eog,
        bosId: tok.bosId ?? undefined,
        streamer: (context) => tokenizerStreamer(tok, context),
        explainNonFinite: () => this.kernels.checkMappedFiles?.(),
      },
      options,
    );
  }

  /** The chat template in effect: `override`, the GGUF's `tokenizer.chat_template`, the plugin's, or a built-in. */
  chatTemplate(override?: string): string {
    if (override) return override;
    const own = this.file.metadata['tokenizer.chat_template'];
    if (typeof own === 'string' && own.length > 0) return own;
    if (this.plugin.chatTemplate) return this.plugin.chatTemplate;
    return fallbackTemplate(this.architecture, (text) => this.hasSpecialToken(text));
  }

  private hasSpecialToken(text: string): boolean {
    return this.tokenizer.tokenId(text) !== undefined;
  }

  /** Renders `messages` with the chat template (assistant turn opened) as the prompt text. */
  renderChat(
    messages: readonly ChatMessage[],
    options: Pick<ChatOptions, 'chatTemplate' | 'templateVariables' | 'templateLimits'> = {},
  ): string {
    const tok = this.tokenizer;
    const text = (id: number | null) => (id === null ? '' : tok.tokenText(id));
    return renderChat(this.chatTemplate(options.chatTemplate), messages, {
      bosToken: text(tok.bosId),
      eosToken: text(tok.eosId),
      addGenerationPrompt: true,
      ...(options.templateVariables ? { variables: options.templateVariables } : {}),
      ...(options.templateLimits ? { limits: options.templateLimits } : {}),
    });
  }

  /**
   * Generates the assistant's reply to `messages`, rendered with the chat template and tokenized
   * with special tokens recognised (no second BOS when the template already writes one).
   */
  chat(messages: readonly ChatMessage[], options: ChatOptions = {}): GenerationStream {
    const text = this.renderChat(messages, options);
    const bos = this.tokenizer.bosId;
    const bosText = bos === null ? '' : this.tokenizer.tokenText(bos);
    const templateWritesBos = bosText.length > 0 && text.startsWith(bosText);
    return this.generate(text, {
      ...options,
      parseSpecial: true,
      ...(templateWritesBos ? { addBos: false } : {}),
    });
  }

  /**
   * Frees every session, the weights, and the kernels instance if loadModel created it. Pending
   * evaluations fail with DISPOSED; memory a running forward pass uses is freed when it ends.
   */
  dispose(): void {
    if (this.disposed) return;
    for (const s of [...this.sessions]) s.dispose();
    this.disposed = true;
    const scheduler = this.core.scheduler;
    scheduler.whenIdle(() => {
      scheduler.dispose(new QuantRuntimeError('DISPOSED', 'The model was disposed while it was evaluating.'));
      this.core.kvPool.clear();
      this.parts.weights.dispose();
      if (this.parts.ownsKernels) this.parts.kernels.dispose();
      void this.file.close().catch(() => {});
    });
  }
}
