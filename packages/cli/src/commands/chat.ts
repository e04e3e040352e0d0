/**
 * `quant chat <model.gguf>`: interactive multi-turn chat with the model's chat template. The KV cache
 * is kept between turns (only the new part of the conversation is evaluated). Ctrl-C stops the
 * current answer; at the prompt it only reminds how to quit. `/reset` forgets the conversation,
 * `/exit` (or Ctrl-D) quits.
 */
import { createInterface } from 'node:readline';
import type { ChatMessage } from '@quant/runtime';
import { describeError } from '../errors.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import {
  chatTokens,
  checkPromptFits,
  formatStats,
  generateOptions,
  type SamplingFlags,
  timedGenerate,
} from '../generation.js';
import { type LoadFlags, openModel } from '../load.js';
import { promptCacheSession, savePromptCache } from '../prompt-cache.js';
import { errColors, info, out, outColors } from '../terminal.js';

export interface ChatFlags extends LoadFlags, SamplingFlags {
  system?: string;
  /** --prompt-cache FILE: the first prompt's prefix is reused from and saved to it. */
  promptCache?: string;
  verbose?: boolean;
}

const HELP =
  'Commands: /reset forgets the conversation, /exit (or Ctrl-D) quits, /help shows this. Ctrl-C stops an answer.';

export async function chatCommand(modelPath: string, flags: ChatFlags): Promise<ExitCode> {
  const { model } = await openModel(modelPath, flags);
  const session = await promptCacheSession(model, flags.promptCache, flags);
  let cacheSaved = false;
  const history: ChatMessage[] = [];
  const start = () => {
    history.length = 0;
    if (flags.system) history.push({ role: 'system', content: flags.system });
    session.reset();
  };
  // the first turn keeps a session restored from --prompt-cache (its tokens are reused as a prefix)
  history.length = 0;
  if (flags.system) history.push({ role: 'system', content: flags.system });
  const options = generateOptions(flags);

  const rl = createInterface({
    input: process.stdin,
    output: process.stdout,
    terminal: process.stdin.isTTY === true,
    historySize: 100,
  });
  rl.setPrompt(outColors.bold('>>> '));
  // The ">>> " prompt only for a person at a terminal; piped turns give clean output.
  const prompt = () => {
    if (process.stdin.isTTY) rl.prompt();
  };
  let answering: AbortController | undefined;
  const onInterrupt = () => {
    if (answering) {
      answering.abort();
      return;
    }
    // Without a terminal (piped input) an interrupt at the prompt ends the chat.
    if (!process.stdin.isTTY) {
      rl.close();
      return;
    }
    // At the prompt: drop what was typed, remind how to leave.
    process.stdout.write('\n');
    info(errColors.dim('(Ctrl-C stops an answer; type /exit or press Ctrl-D to quit)'));
    rl.write(null, { ctrl: true, name: 'u' });
    prompt();
  };
  rl.on('SIGINT', onInterrupt);
  process.on('SIGINT', onInterrupt);

  if (!flags.quiet) info(errColors.dim(`Chatting with ${modelPath} (${model.architecture}). ${HELP}`));
  try {
    prompt();
    for await (const raw of rl) {
      const line = raw.trim();
      if (line === '') {
        prompt();
        continue;
      }
      if (line === '/exit' || line === '/quit' || line === '/bye') break;
      if (line === '/reset') {
        start();
        info(errColors.dim('(conversation cleared)'));
        prompt();
        continue;
      }
      if (line === '/help' || line === '/?') {
        info(HELP);
        prompt();
        continue;
      }
      history.push({ role: 'user', content: raw });
      let tokens: number[];
      try {
        tokens = chatTokens(model, history);
        checkPromptFits(tokens, session.contextSize);
      } catch (e) {
        history.pop();
        info(
          `${errColors.red('error:')} ${describeError(e).message}${errColors.dim(' (/reset starts a new conversation)')}`,
        );
        prompt();
        continue;
      }
      answering = new AbortController();
      try {
        const cache = flags.promptCache;
        const stats = await timedGenerate({
          model,
          session,
          tokens,
          options,
          signal: answering.signal,
          ...(cache && !cacheSaved
            ? {
                onPromptEvaluated: (s) => {
                  cacheSaved = true;
                  return savePromptCache(s, cache, flags.quiet);
                },
              }
            : {}),
        });
        history.push({ role: 'assistant', content: stats.text });
        if (!stats.text.endsWith('\n')) await out('\n');
        if (stats.finishReason === 'abort') info(errColors.yellow('[interrupted]'));
        if (stats.finishReason === 'context')
          info(
            errColors.yellow(
              '[the context is full: /reset to start a new conversation, or restart with a larger --ctx]',
            ),
          );
        if (flags.verbose) info(errColors.dim(formatStats(stats)));
      } catch (e) {
        history.pop();
        session.reset();
        info(`${errColors.red('error:')} ${describeError(e).message}`);
      } finally {
        answering = undefined;
      }
      prompt();
    }
  } finally {
    process.off('SIGINT', onInterrupt);
    rl.close();
    session.dispose();
    model.dispose();
  }
  if (process.stdin.isTTY) process.stdout.write('\n');
  return EXIT.OK;
}
