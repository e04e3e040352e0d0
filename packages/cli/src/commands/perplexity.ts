/** `quant perplexity <model.gguf> -f text.txt [--ctx N]`: llama-perplexity's number on our runtime. */
import { readFileSync } from 'node:fs';
import { assertFiniteLogits } from '@quant/runtime';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { checkInputFile, type LoadFlags, openModel } from '../load.js';
import {
  chunkInput,
  DEFAULT_PERPLEXITY_CTX,
  PerplexityAccumulator,
  planPerplexity,
  scoreChunk,
} from '../perplexity/chunks.js';
import { createProgress } from '../progress.js';
import { errColors, info, out } from '../terminal.js';

export interface PerplexityFlags extends LoadFlags {
  file: string;
  chunks?: number;
  json?: boolean;
}

/** The text as llama.cpp's `-f` reads it: the whole file, one trailing newline removed. */
export function readPerplexityText(path: string): string {
  checkInputFile(path, 'text');
  const text = readFileSync(path, 'utf8');
  return text.endsWith('\n') ? text.slice(0, -1) : text;
}

export async function perplexityCommand(modelPath: string, flags: PerplexityFlags): Promise<ExitCode> {
  const text = readPerplexityText(flags.file);
  const nCtx = flags.ctx ?? DEFAULT_PERPLEXITY_CTX;
  checkInputFile(modelPath);
  const { model } = await openModel(modelPath, { ...flags, ctx: nCtx });
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once('SIGINT', onSigint);
  const started = performance.now();
  try {
    const tokens = model.tokenize(text);
    const plan = planPerplexity(tokens.length, nCtx, flags.chunks ?? -1);
    const tok = model.tokenizer;
    const bos = tok.addBos && tok.bosId !== null ? tok.bosId : null;
    const nVocab = model.hparams.nVocab;
    if (!flags.quiet) {
      info(
        errColors.dim(
          `${tokens.length} tokens, ${plan.nChunks} chunks of ${nCtx}, scoring the last ${plan.scoredPerChunk} tokens of each`,
        ),
      );
    }
    const acc = new PerplexityAccumulator();
    const running: number[] = [];
    const bar = createProgress({
      label: 'perplexity',
      total: plan.nChunks,
      enabled: flags.quiet ? false : undefined,
    });
    const showRunning = !flags.quiet && process.stderr.isTTY !== true;
    const session = model.createSession({ contextSize: nCtx });
    try {
      for (let i = 0; i < plan.nChunks; i++) {
        if (controller.signal.aborted) break;
        session.reset();
        const chunk = chunkInput(tokens, plan, i, bos);
        await session.evaluate(chunk.subarray(0, plan.first));
        const logits = await session.evaluate(chunk.subarray(plan.first), { allLogits: true });
        // NaN/Inf logits (a damaged model) would print PPL = nan and exit 0: stop with NON_FINITE_LOGITS.
        assertFiniteLogits(logits, nVocab, plan.first);
        acc.add(scoreChunk(logits, nVocab, tokens, plan, i));
        running.push(acc.perplexity);
        bar.update(i + 1, `PPL ${acc.perplexity.toFixed(4)}`);
        if (showRunning) process.stderr.write(`[${i + 1}]${acc.perplexity.toFixed(4)},`);
      }
    } finally {
      bar.stop();
      session.dispose();
      if (showRunning && running.length > 0) process.stderr.write('\n');
    }
    if (controller.signal.aborted) {
      info(
        errColors.yellow(
          `interrupted after ${acc.chunks} of ${plan.nChunks} chunks${acc.chunks ? `: PPL so far ${acc.perplexity.toFixed(4)}` : ''}`,
        ),
      );
      return EXIT.INTERRUPTED;
    }
    const seconds = (performance.now() - started) / 1000;
    if (flags.json) {
      await out(
        `${JSON.stringify(
          {
            model: modelPath,
            file: flags.file,
            tokens: tokens.length,
            nCtx,
            chunks: plan.nChunks,
            scoredTokens: acc.count,
            perplexity: acc.perplexity,
            uncertainty: Number.isNaN(acc.uncertainty) ? null : acc.uncertainty,
            running,
            seconds,
          },
          null,
          2,
        )}\n`,
      );
    } else {
      const pm = Number.isNaN(acc.uncertainty) ? '' : ` +/- ${acc.uncertainty.toFixed(5)}`;
      await out(`Final estimate: PPL = ${acc.perplexity.toFixed(4)}${pm}\n`);
      if (!flags.quiet) info(errColors.dim(`${acc.count} tokens scored in ${seconds.toFixed(2)} s`));
    }
    return EXIT.OK;
  } finally {
    process.off('SIGINT', onSigint);
    model.dispose();
  }
}
