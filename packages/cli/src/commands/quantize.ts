/**
 * `quant quantize <in.gguf> <out.gguf> <TYPE> [--pure] [--dry-run] [--threads N]`: @quant/quantize's
 * llama-quantize-compatible mixes; `--dry-run` prints the tensor → type plan without writing.
 */
import { parseGGUF } from '@quant/gguf';
import {
  formatPlan,
  isPlanFileType,
  PLAN_FILE_TYPES,
  type PlanFileType,
  planQuantization,
  QUANTIZE_FILE_TYPES,
  type QuantizeFileType,
  quantizeModel,
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

  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once('SIGINT', onSigint);
  let bar: ReturnType<typeof createProgress> | undefined;
  try {
    const result = await quantizeModel(inPath, outPath, {
      type: type as QuantizeFileType,
      pure: flags.pure ?? false,
      ...(flags.threads !== undefined ? { threads: flags.threads } : {}),
      signal: controller.signal,
      onProgress: (done, total, name) => {
        bar ??= createProgress({
          label: `quantizing to ${type}`,
          total,
          enabled: flags.quiet ? false : undefined,
        });
        bar.update(done, name);
      },
    });
    bar?.stop();
    if (flags.json) {
      const { plan, ...rest } = result;
      await out(
        `${JSON.stringify({ ...rest, type, pure: plan.pure, tensors: plan.tensors.length, sourceBytes: plan.sourceBytes }, null, 2)}\n`,
      );
    } else {
      await out(
        `${inPath} -> ${outPath}: ${type}${result.plan.pure ? ' (pure)' : ''}, ${result.plan.tensors.length} tensors, ` +
          `${formatBytes(result.plan.sourceBytes)} -> ${formatBytes(result.outputBytes)} in ${result.seconds.toFixed(2)} s ` +
          `(${result.threads} thread${result.threads === 1 ? '' : 's'})\n`,
      );
      if (result.note && !flags.quiet) info(errColors.dim(result.note));
    }
    return EXIT.OK;
  } finally {
    bar?.stop();
    process.off('SIGINT', onSigint);
  }
}
