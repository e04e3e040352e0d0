/**
 * `quant quantize <in.gguf> <out.gguf|-> <TYPE> [--pure] [--dry-run] [--force] [--threads N]`: @quant/quantize's
 * llama-quantize-compatible mixes; `--dry-run` prints the tensor → type plan without writing. The
 * output file is written by `quantizeModel` (a temporary file renamed into place when complete), so
 * no failure or signal can destroy an existing file; `-` streams to stdout and never deletes anything.
 */
import { parseGGUF } from '@quant/gguf';
import {
  formatPlan,
  isPlanFileType,
  maxQuantizeThreads,
  PLAN_FILE_TYPES,
  type PlanFileType,
  planQuantization,
  QUANTIZE_FILE_TYPES,
  QuantizeError,
  type QuantizeErrorCode,
  type QuantizeFileType,
  type QuantizeOptions,
  type QuantizeStreamResult,
  quantizeModel,
  quantizeToStream,
} from '@quant/quantize';
import { CliError } from '../errors.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { checkInputFile } from '../load.js';
import { createProgress } from '../progress.js';
import { errColors, formatBytes, info, out } from '../terminal.js';

export interface QuantizeFlags {
  pure?: boolean;
  dryRun?: boolean;
  threads?: number;
  json?: boolean;
  quiet?: boolean;
  /** Replace an existing output file. */
  force?: boolean;
}

/** `q4_k_m` → `Q4_K_M`, checked against what the mode (plan or write) supports. */
export function parseQuantType(raw: string, dryRun: boolean): PlanFileType {
  const t = raw.toUpperCase();
  const writable = (QUANTIZE_FILE_TYPES as readonly string[]).includes(t);
  if (!isPlanFileType(t) || (!dryRun && !writable)) {
    const plannable = PLAN_FILE_TYPES.filter((x) => !(QUANTIZE_FILE_TYPES as readonly string[]).includes(x));
    throw new CliError(
      'USAGE',
      `unknown quantization type "${raw}"; use one of ${QUANTIZE_FILE_TYPES.join(', ')}` +
        (isPlanFileType(t)
          ? ` (${t} can only be planned, with --dry-run)`
          : ` (with --dry-run also ${plannable.join(', ')})`),
    );
  }
  return t;
}

/** Signals that stop a quantization cleanly, and the exit code each gives (128 + signal number). */
const STOP_SIGNALS = {
  SIGINT: EXIT.INTERRUPTED,
  SIGTERM: EXIT.TERMINATED,
  SIGHUP: EXIT.HANGUP,
} as const satisfies Record<string, ExitCode>;
type StopSignal = keyof typeof STOP_SIGNALS;

/** Duck-typed (a second copy of @quant/quantize in node_modules still matches), as in errors.ts. */
function quantizeErrorCode(e: unknown): QuantizeErrorCode | undefined {
  return e instanceof Error && e.name === 'QuantizeError' ? (e as QuantizeError).code : undefined;
}

/** The library's messages name its options; say it with this command's flags instead. */
function withCliAdvice(e: unknown, outPath: string): unknown {
  const code = quantizeErrorCode(e);
  if (code === 'OUTPUT_EXISTS')
    return new QuantizeError(
      code,
      `${outPath} already exists; use --force to replace it (the old file is kept until the new one is complete)`,
      { path: outPath, cause: e },
    );
  if (code === 'OUTPUT_NOT_REGULAR') {
    const what = (e as Error).message.split('; ')[0];
    return new QuantizeError(
      code,
      `${what}; quant quantize writes a regular file (a temporary file renamed into place): give a file path, or "-" to stream the model to stdout (quant quantize in.gguf - Q8_0 > out.gguf)`,
      { path: outPath, cause: e },
    );
  }
  return e;
}

/** `--threads` above the CPU count only costs memory (1024 threads: 56 s and 6.9 GB on a 9 MB model). */
function clampThreads(threads: number | undefined): number | undefined {
  const max = maxQuantizeThreads();
  if (threads === undefined || threads <= max) return threads;
  info(
    `quant: --threads ${threads} is more than the ${max} CPU${max === 1 ? '' : 's'} available; using ${max}`,
  );
  return max;
}

export async function quantizeCommand(
  inPath: string,
  outPath: string,
  typeArg: string,
  flags: QuantizeFlags,
): Promise<ExitCode> {
  const type = parseQuantType(typeArg, flags.dryRun === true);
  checkInputFile(inPath, 'input');
  if (flags.dryRun) {
    const file = await parseGGUF(inPath);
    try {
      const plan = planQuantization(file, { type, pure: flags.pure ?? false });
      await out(`${flags.json ? JSON.stringify(plan, null, 2) : formatPlan(plan)}\n`);
    } finally {
      await file.close();
    }
    return EXIT.OK;
  }

  const toStdout = outPath === '-';
  if (toStdout && process.stdout.isTTY)
    throw new CliError(
      'USAGE',
      'refusing to write a binary GGUF file to the terminal; redirect stdout (quant quantize in.gguf - Q8_0 > out.gguf) or give an output path',
    );
  const threads = clampThreads(flags.threads);
  const outLabel = toStdout ? 'stdout' : outPath;

  // First SIGINT/SIGTERM/SIGHUP: abort (the temporary file is removed, the output left as it was).
  // A second one: exit at once; @quant/quantize's exit hook still removes the temporary file.
  const controller = new AbortController();
  let bar: ReturnType<typeof createProgress> | undefined;
  let caught: StopSignal | undefined;
  const onSignal = (sig: StopSignal) => {
    if (caught === undefined) {
      caught = sig;
      controller.abort();
      return;
    }
    bar?.stop();
    process.stderr.write(
      `\n${errColors.red('quant: error:')} ${sig} again: stopped at once; ` +
        `${toStdout ? 'the model on stdout is incomplete' : `${outPath} was not written`}\n`,
    );
    process.exit(STOP_SIGNALS[sig]);
  };
  const handlers = (Object.keys(STOP_SIGNALS) as StopSignal[]).map((sig) => {
    const h = () => onSignal(sig);
    process.on(sig, h);
    return [sig, h] as const;
  });
  try {
    const options: QuantizeOptions = {
      type: type as QuantizeFileType,
      pure: flags.pure ?? false,
      ...(threads !== undefined ? { threads } : {}),
      signal: controller.signal,
      onProgress: (done, total, name) => {
        bar ??= createProgress({
          label: `quantizing to ${type}`,
          total,
          enabled: flags.quiet ? false : undefined,
        });
        bar.update(done, name);
      },
    };
    let result: QuantizeStreamResult;
    try {
      if (toStdout) {
        result = await quantizeToStream(inPath, process.stdout, options);
      } else {
        const r = await quantizeModel(inPath, outPath, { ...options, overwrite: flags.force === true });
        if (!flags.quiet)
          for (const p of r.removedPartials) info(errColors.dim(`removed ${p}, left by a killed run`));
        result = r;
      }
    } catch (e) {
      bar?.stop();
      if (caught !== undefined && quantizeErrorCode(e) === 'ABORTED') {
        process.stderr.write(`${errColors.red('quant: error:')} ${caught}: ${(e as Error).message}\n`);
        return STOP_SIGNALS[caught];
      }
      throw withCliAdvice(e, outPath);
    }
    bar?.stop();
    // With "-" stdout holds the model, so the summary goes to stderr.
    const say = toStdout ? async (text: string) => void process.stderr.write(text) : out;
    if (flags.json) {
      const { plan, ...rest } = result;
      await say(
        `${JSON.stringify({ ...rest, ...(toStdout ? { outPath: '-' } : {}), type, pure: plan.pure, tensors: plan.tensors.length, sourceBytes: plan.sourceBytes }, null, 2)}\n`,
      );
    } else {
      await say(
        `${inPath} -> ${outLabel}: ${type}${result.plan.pure ? ' (pure)' : ''}, ${result.plan.tensors.length} tensors, ` +
          `${formatBytes(result.plan.sourceBytes)} -> ${formatBytes(result.outputBytes)} in ${result.seconds.toFixed(2)} s ` +
          `(${result.threads} thread${result.threads === 1 ? '' : 's'})\n`,
      );
      if (result.note && !flags.quiet) info(errColors.dim(result.note));
    }
    return EXIT.OK;
  } finally {
    bar?.stop();
    for (const [sig, h] of handlers) process.off(sig, h);
  }
}
