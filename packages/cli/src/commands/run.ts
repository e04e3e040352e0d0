/** `quant run <model.gguf> [prompt]`: stream a completion (or, with --chat, one chat answer) to stdout. */
import type { ChatMessage } from '@quant/runtime';
import { EXIT, type ExitCode } from '../exit-codes.js';
import {
  chatTokens,
  checkPromptFits,
  formatStats,
  generateOptions,
  promptTokens,
  type SamplingFlags,
  timedGenerate,
} from '../generation.js';
import { type LoadFlags, openModel } from '../load.js';
import { readStdin } from '../options.js';
import { promptCacheSession, savePromptCache } from '../prompt-cache.js';
import { errColors, info, out } from '../terminal.js';

export interface RunFlags extends LoadFlags, SamplingFlags {
  chat?: boolean;
  /** --prompt-cache FILE */
  promptCache?: string;
  system?: string;
  verbose?: boolean;
}

export async function runCommand(
  modelPath: string,
  promptArg: string | undefined,
  flags: RunFlags,
): Promise<ExitCode> {
  // From stdin, one trailing newline is dropped (as llama.cpp does for -f files).
  const prompt = promptArg === '-' ? (await readStdin()).replace(/\r?\n$/, '') : (promptArg ?? '');
  const { model, loadSeconds } = await openModel(modelPath, flags);
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once('SIGINT', onSigint);
  try {
    let tokens: number[];
    if (flags.chat) {
      const messages: ChatMessage[] = [];
      if (flags.system) messages.push({ role: 'system', content: flags.system });
      messages.push({ role: 'user', content: prompt });
      tokens = chatTokens(model, messages);
    } else {
      tokens = promptTokens(model, prompt);
    }
    checkPromptFits(tokens, model.contextSize);
    const options = generateOptions(flags);
    options.seed ??= Math.floor(Math.random() * 0x7fffffff);
    if (flags.verbose) {
      info(
        errColors.dim(
          `prompt: ${tokens.length} tokens · seed ${options.seed} · temp ${options.temperature ?? 0.8} · top-k ${options.topK ?? 40} · ` +
            `top-p ${options.topP ?? 0.95} · min-p ${options.minP ?? 0.05} · repeat-penalty ${options.repeatPenalty ?? 1}`,
        ),
      );
    }
    const session = await promptCacheSession(model, flags.promptCache, flags);
    let stats: Awaited<ReturnType<typeof timedGenerate>>;
    try {
      const cache = flags.promptCache;
      stats = await timedGenerate({
        model,
        session,
        tokens,
        options,
        signal: controller.signal,
        ...(cache ? { onPromptEvaluated: (s) => savePromptCache(s, cache, flags.quiet) } : {}),
      });
    } finally {
      session.dispose();
    }
    if (!stats.text.endsWith('\n')) await out('\n');
    if (stats.finishReason === 'context') {
      info(
        errColors.yellow(
          `stopped: the ${model.contextSize}-token context is full; use --ctx to allow longer output`,
        ),
      );
    }
    if (!flags.quiet || flags.verbose) {
      info(errColors.dim(formatStats(stats)));
      if (flags.verbose) {
        info(errColors.dim(`load ${loadSeconds.toFixed(2)} s · finish: ${stats.finishReason}`));
      }
    }
    return stats.finishReason === 'abort' ? EXIT.INTERRUPTED : EXIT.OK;
  } finally {
    process.off('SIGINT', onSigint);
    model.dispose();
  }
}
