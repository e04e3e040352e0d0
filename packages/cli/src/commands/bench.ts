/**
 * `quant bench <model.gguf> [-p 512] [-n 128] [-r 5] [--threads N] [--json]`, in the spirit of
 * llama-bench: pp<N> evaluates N prompt tokens in one go from an empty cache, tg<N> evaluates N
 * tokens one at a time; each test runs once to warm up, then `-r` times; tokens/s are reported as
 * mean ± sample standard deviation over the runs.
 */
import { basename } from 'node:path';
import type { Model } from '@quant/runtime';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { type LoadFlags, openModel } from '../load.js';
import { createProgress } from '../progress.js';
import { mean, stddev } from '../stats.js';
import { formatBytes, formatCount, out, outColors } from '../terminal.js';

export interface BenchFlags extends LoadFlags {
  nPrompt: number;
  nGen: number;
  repetitions: number;
  json?: boolean;
}

export interface BenchResult {
  /** The file's base name. */
  model: string;
  file: string;
  sizeBytes: number;
  parameters: number;
  backend: string;
  threads: number;
  test: string;
  nPrompt: number;
  nGen: number;
  repetitions: number;
  /** Tokens per second of each run. */
  samplesTs: number[];
  avgTs: number;
  stddevTs: number;
  /** Nanoseconds of each run. */
  samplesNs: number[];
  avgNs: number;
}

/** Deterministic token ids for the runs (llama-bench uses rand() % n_vocab). */
function tokenStream(nVocab: number, seed = 1234): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % nVocab;
  };
}

async function runPrompt(model: Model, n: number, next: () => number): Promise<number> {
  const tok = model.tokenizer;
  const tokens = Array.from({ length: n }, (_, i) =>
    i === 0 && tok.addBos && tok.bosId !== null ? tok.bosId : next(),
  );
  const session = model.createSession({ contextSize: n });
  try {
    const t0 = process.hrtime.bigint();
    await session.evaluate(tokens);
    return Number(process.hrtime.bigint() - t0);
  } finally {
    session.dispose();
  }
}

async function runGen(model: Model, n: number, next: () => number): Promise<number> {
  const tok = model.tokenizer;
  const session = model.createSession({ contextSize: n });
  try {
    let token = tok.addBos && tok.bosId !== null ? tok.bosId : next();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      await session.evaluate([token]);
      token = next();
    }
    return Number(process.hrtime.bigint() - t0);
  } finally {
    session.dispose();
  }
}

function row(cells: string[], widths: number[], right: boolean[]): string {
  return `| ${cells.map((c, i) => (right[i] ? c.padStart(widths[i] as number) : c.padEnd(widths[i] as number))).join(' | ')} |`;
}

export function formatBenchTable(results: readonly BenchResult[]): string {
  const head = ['model', 'size', 'params', 'backend', 'threads', 'test', 't/s'];
  const right = [false, true, true, false, true, true, true];
  const body = results.map((r) => [
    r.model,
    formatBytes(r.sizeBytes),
    formatCount(r.parameters),
    r.backend,
    String(r.threads),
    r.test,
    `${r.avgTs.toFixed(2)} ± ${r.stddevTs.toFixed(2)}`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] as string).length)));
  const sep = `|${widths.map((w, i) => (right[i] ? `${'-'.repeat(w + 1)}:` : `${'-'.repeat(w + 2)}`)).join('|')}|`;
  return [outColors.bold(row(head, widths, right)), sep, ...body.map((b) => row(b, widths, right))].join(
    '\n',
  );
}

export async function benchCommand(modelPath: string, flags: BenchFlags): Promise<ExitCode> {
  const ctx = Math.max(flags.ctx ?? 0, flags.nPrompt, flags.nGen, 1);
  const { model } = await openModel(modelPath, { ...flags, ctx });
  try {
    const summary = model.file.summary();
    const name = basename(modelPath);
    const tests: {
      test: string;
      nPrompt: number;
      nGen: number;
      run: (next: () => number) => Promise<number>;
    }[] = [];
    if (flags.nPrompt > 0)
      tests.push({
        test: `pp${flags.nPrompt}`,
        nPrompt: flags.nPrompt,
        nGen: 0,
        run: (next) => runPrompt(model, flags.nPrompt, next),
      });
    if (flags.nGen > 0)
      tests.push({
        test: `tg${flags.nGen}`,
        nPrompt: 0,
        nGen: flags.nGen,
        run: (next) => runGen(model, flags.nGen, next),
      });
    const results: BenchResult[] = [];
    for (const t of tests) {
      const next = tokenStream(model.hparams.nVocab);
      const bar = createProgress({
        label: t.test,
        total: flags.repetitions + 1,
        enabled: flags.quiet ? false : undefined,
      });
      const ns: number[] = [];
      try {
        await t.run(next); // warm-up
        bar.update(1, 'warm-up');
        for (let r = 0; r < flags.repetitions; r++) {
          ns.push(await t.run(next));
          bar.update(r + 2);
        }
      } finally {
        bar.stop();
      }
      const n = t.nPrompt + t.nGen;
      const ts = ns.map((x) => (n * 1e9) / x);
      results.push({
        model: name,
        file: modelPath,
        sizeBytes: summary.tensorBytes,
        parameters: summary.parameterCount,
        backend: model.kernels.backend,
        threads: model.kernels.threads,
        test: t.test,
        nPrompt: t.nPrompt,
        nGen: t.nGen,
        repetitions: flags.repetitions,
        samplesTs: ts,
        avgTs: mean(ts),
        stddevTs: stddev(ts),
        samplesNs: ns,
        avgNs: mean(ns),
      });
    }
    await out(`${flags.json ? JSON.stringify(results, null, 2) : formatBenchTable(results)}\n`);
    return EXIT.OK;
  } finally {
    model.dispose();
  }
}
