import { AbortError, ContextFullError, invalidOption, QuantRuntimeError } from '../errors.js';
import type { Session } from '../model/session.js';
import { Sampler } from '../sampling/sampler.js';
import { yieldToEventLoop } from '../yield.js';
import { assertFiniteLogits } from './finite-logits.js';
import { checkLogprobsOption, type TokenLogprob, tokenLogprobs } from './logprobs.js';
import type { FinishReason, GenerateOptions } from './options.js';
import { StopStringMatcher } from './stop-strings.js';
import type { TextStreamer } from './text-streamer.js';
import { validateGenerateOptions } from './validate.js';

/** What the generation loop needs from its model (internal). */
export interface GenerationHost {
  /** The session to run in (called when iteration starts), and whether the generation disposes it. */
  openSession: () => { session: Session; owned: boolean };
  prompt: readonly number[];
  eog: ReadonlySet<number>;
  bosId: number | undefined;
  streamer: (context: readonly number[]) => TextStreamer;
  /**
   * Called when logits are not finite, before NonFiniteLogitsError is thrown: throws a more precise
   * error when the cause is known (e.g. MODEL_FILE_CHANGED: the mapped model file changed during the pass).
   */
  explainNonFinite?: () => void;
}

/** Sessions with a generation running (one at a time per session). */
const busy = new WeakSet<Session>();

/** Length of the common prefix of two token lists. */
function commonPrefix(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

/**
 * A running generation: an async iterable of text pieces (each a whole number of characters).
 * After iteration, `tokens` holds the generated ids and `finishReason` why it ended.
 * Iterate it once; `text()` collects everything.
 *
 * Every generated token ends with a macrotask yield to the event loop (see ../yield.ts), so timers,
 * I/O and AbortSignal.timeout() keep working while a generation runs, and an aborted signal stops
 * it within one token.
 */
export class GenerationStream implements AsyncIterable<string> {
  /** Token ids generated so far (end-of-generation tokens are not included). */
  readonly tokens: number[] = [];
  /** With the `logprobs` option: one record per entry of `tokens` (see logprobs.ts). */
  readonly logprobs: TokenLogprob[] = [];
  /**
   * Why the generation ended (undefined while it runs): 'eog', 'stop', 'length', 'error', or
   * 'abort' — the signal aborted, or the consumer stopped iterating (break, return or throw in the loop).
   */
  finishReason: FinishReason | undefined;
  private started = false;
  private readonly host: GenerationHost;
  private readonly options: GenerateOptions;

  /** @internal */
  constructor(host: GenerationHost, options: GenerateOptions) {
    this.host = host;
    this.options = options;
    // Validate every option now (types and ranges, sampling included), not at first iteration.
    validateGenerateOptions(options);
    checkLogprobsOption(options.logprobs);
  }

  [Symbol.asyncIterator](): AsyncIterator<string> {
    if (this.started) {
      throw new QuantRuntimeError(
        'INVALID_STATE',
        'A GenerationStream can be iterated only once; call generate() again for another run.',
      );
    }
    this.started = true;
    return this.run();
  }

  /** Runs the generation to the end and returns all text. */
  async text(): Promise<string> {
    let s = '';
    for await (const piece of this) s += piece;
    return s;
  }

  private async *run(): AsyncGenerator<string> {
    const host = this.host;
    const o = this.options;
    let opened: { session: Session; owned: boolean };
    try {
      opened = host.openSession();
    } catch (e) {
      this.finishReason = 'error';
      throw e;
    }
    const { session, owned } = opened;
    if (busy.has(session)) {
      this.finishReason = 'error';
      throw new QuantRuntimeError(
        'INVALID_STATE',
        'This session is already generating; wait for that generation to end or use another session.',
      );
    }
    busy.add(session);
    try {
      const signal = o.signal;
      const checkAbort = () => {
        if (signal?.aborted) {
          this.finishReason = 'abort';
          throw new AbortError(signal.reason);
        }
      };
      checkAbort();
      const maxTokens = o.maxTokens ?? Number.POSITIVE_INFINITY;
      const sampler = new Sampler(o);
      const stop = new StopStringMatcher(o.stop ?? []);
      const shift = o.contextShift ? (typeof o.contextShift === 'object' ? o.contextShift : {}) : undefined;
      if (shift?.keep !== undefined && shift.keep > session.contextSize - 2) {
        throw invalidOption(
          'contextShift.keep',
          shift.keep,
          `at most contextSize - 2 = ${session.contextSize - 2} (a shift must free room for new tokens in this ${session.contextSize}-token context)`,
        );
      }

      // Reuse the session's cached prefix; at least the last prompt token is evaluated for logits.
      let prompt = [...host.prompt];
      if (prompt.length === 0)
        throw invalidOption('prompt', '', 'at least one token (an empty string prompt needs addBos)');
      if (prompt.length >= session.contextSize && shift) prompt = this.trimPrompt(session, prompt, shift);
      const reuse = Math.min(commonPrefix(session.tokens, prompt), prompt.length - 1);
      session.truncate(reuse);
      let logits = await session.evaluate(prompt.slice(reuse), signal ? { signal } : {}).catch((e) => {
        if (signal?.aborted) this.finishReason = 'abort';
        throw e;
      });
      const streamer = host.streamer(prompt);

      if (maxTokens === 0) {
        this.finishReason = 'length';
        return;
      }
      for (;;) {
        checkAbort();
        try {
          assertFiniteLogits(logits, logits.length, session.position - 1);
        } catch (e) {
          host.explainNonFinite?.();
          throw e;
        }
        const token = sampler.sample(logits, session.tokens);
        if (host.eog.has(token)) {
          this.finishReason = 'eog';
          break;
        }
        this.tokens.push(token);
        if (o.logprobs !== undefined) this.logprobs.push(tokenLogprobs(logits, token, o.logprobs));
        const r = stop.push(streamer.push(token));
        if (r.text) yield r.text;
        if (r.stopped) {
          this.finishReason = 'stop';
          return;
        }
        if (this.tokens.length >= maxTokens) {
          this.finishReason = 'length';
          break;
        }
        // A macrotask per token: timers, I/O and abort signals run here.
        await yieldToEventLoop();
        checkAbort();
        const evaluateOptions = signal ? { signal } : {};
        if (session.position + 1 > session.contextSize) {
          if (!shift) throw new ContextFullError(session.contextSize, session.position, 1);
          logits = await this.shiftContext(session, shift, token, evaluateOptions);
        } else {
          logits = await session.evaluate([token], evaluateOptions);
        }
      }
      const rest = stop.push(streamer.flush());
      const tail = rest.text + (rest.stopped ? '' : stop.flush());
      if (rest.stopped) this.finishReason = 'stop';
      if (tail) yield tail;
    } catch (e) {
      this.finishReason ??= e instanceof AbortError ? 'abort' : 'error';
      throw e;
    } finally {
      // Still undefined here only when the consumer stopped iterating (break/return/throw in its loop).
      this.finishReason ??= 'abort';
      busy.delete(session);
      if (owned) session.dispose();
    }
  }

  private keepCount(tokens: readonly number[], shift: { keep?: number }): number {
    const bos = this.host.bosId;
    return shift.keep ?? (bos !== undefined && tokens[0] === bos ? 1 : 0);
  }

  /** Keeps `keep` head tokens and the newest half of the context for a prompt that does not fit. */
  private trimPrompt(session: Session, prompt: number[], shift: { keep?: number }): number[] {
    const ctx = session.contextSize;
    const keep = Math.min(this.keepCount(prompt, shift), ctx - 1);
    const tail = Math.max(1, Math.floor((ctx - keep) / 2));
    return [...prompt.slice(0, keep), ...prompt.slice(prompt.length - tail)];
  }

  /**
   * Drops the older half of the tokens after `keep` and moves the rest down, then evaluates `token`;
   * returns the logits after `token`. When the plugin describes its keys' RoPE the cached keys are
   * rotated in place (`Session.discard`, llama.cpp's K-shift); otherwise the kept tokens are
   * evaluated again at their new positions, together with `token`.
   */
  private async shiftContext(
    session: Session,
    shift: { keep?: number },
    token: number,
    evaluateOptions: { signal?: AbortSignal },
  ): Promise<Float32Array> {
    const all = [...session.tokens];
    const keep = Math.min(this.keepCount(all, shift), session.contextSize - 2);
    const discard = Math.max(1, Math.floor((all.length - keep) / 2));
    if (session.keyShift === 'rotate') {
      await session.discard(keep, discard, evaluateOptions);
      return session.evaluate([token], evaluateOptions);
    }
    const kept = [...all.slice(keep + discard), token];
    session.truncate(keep);
    return session.evaluate(kept, evaluateOptions);
  }
}
