/** The `quant` command line: commander definitions of every subcommand and the exit-code contract. */
import { QUANTIZE_FILE_TYPES } from '@quant/quantize';
import { Command, CommanderError, Option } from 'commander';
import pkg from '../package.json' with { type: 'json' };
import { benchCommand } from './commands/bench.js';
import { chatCommand } from './commands/chat.js';
import { inspectCommand } from './commands/inspect.js';
import { listCommand } from './commands/list.js';
import { perplexityCommand } from './commands/perplexity.js';
import { pullCommand } from './commands/pull.js';
import { quantizeCommand } from './commands/quantize.js';
import { rmCommand } from './commands/rm.js';
import { runCommand } from './commands/run.js';
import { registerServeCommand } from './commands/serve.js';
import { describeError } from './errors.js';
import { EXIT, type ExitCode } from './exit-codes.js';
import {
  collect,
  expandLlamaShortFlags,
  parseBackend,
  parseCacheType,
  parseInteger,
  parseNumber,
} from './options.js';
import { DEFAULT_PERPLEXITY_CTX } from './perplexity/chunks.js';
import { errColors } from './terminal.js';

const loadOptions = (
  c: Command,
  ctxHelp = 'context size in tokens (default: the model’s trained context, at most 4096)',
): Command =>
  c
    .option('--ctx <n>', ctxHelp, parseInteger(1))
    .option(
      '--threads <n>',
      'CPU threads for the native backend (default: physical cores)',
      parseInteger(1, 256),
    )
    .addOption(
      new Option('--backend <name>', 'kernel backend: native or wasm (default: native, else wasm)').argParser(
        parseBackend,
      ),
    )
    .option('-q, --quiet', 'no progress or statistics on stderr')
    .option('--token <token>', 'Hugging Face access token for gated models (default: $HF_TOKEN)')
    .option(
      '--plugin <package or path>',
      'architecture plugin to import before the model (repeatable; also $QUANT_PLUGINS, comma-separated)',
      collect,
    )
    .addOption(
      new Option(
        '--cache-type-k <type>',
        "KV cache type of keys, alias -ctk: f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, iq4_nl, or iq4_nlr (quant's rotated 4.5-bit type) (default f16)",
      ).argParser(parseCacheType),
    )
    .addOption(
      new Option(
        '--cache-type-v <type>',
        'KV cache type of values, alias -ctv (same types; quantized ones use flash attention) (default f16)',
      ).argParser(parseCacheType),
    );

const samplingOptions = (c: Command): Command =>
  c
    .option(
      '-n, --max-tokens <n>',
      'most tokens to generate (default: until end of text or a full context)',
      parseInteger(0),
    )
    .option('--temp <t>', 'temperature; 0 = greedy (default 0.8)', parseNumber())
    .option('--top-k <k>', 'keep the k most likely tokens; 0 = off (default 40)', parseInteger(0))
    .option('--top-p <p>', 'nucleus sampling threshold in (0, 1]; 1 = off (default 0.95)', parseNumber(0, 1))
    .option(
      '--min-p <p>',
      'drop tokens below p × the top probability; 0 = off (default 0.05)',
      parseNumber(0, 1),
    )
    .option('--repeat-penalty <x>', 'penalty for recently seen tokens; 1 = off (default 1)', parseNumber(0))
    .option('--seed <n>', 'random seed (default: random)', parseInteger(-(2 ** 31), 2 ** 32))
    .option('--stop <text>', 'stop before this text (repeatable)', collect)
    .option('--system <text>', 'system message for the chat template')
    .option('--verbose', 'also print sampling settings, load time and why generation ended');

/** Builds the program; `setExit` receives each command's exit code. */
export function createProgram(setExit: (code: ExitCode) => void): Command {
  const program = new Command('quant')
    .description('Run, chat with, inspect, measure and quantize GGUF language models on the CPU.')
    .version(pkg.version, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ outputError: (str, write) => write(`${errColors.red('quant:')} ${str}`) })
    .addHelpText(
      'after',
      '\nExit codes: 0 ok, 1 unexpected failure, 2 bad command line, 3 file not found, 4 not a GGUF / damaged,\n' +
        '5 unsupported model, 6 model larger than memory, 7 context too small, 8 write failed or refused,\n' +
        '9 NaN/Inf weights (quantize), 130 interrupted (Ctrl-C), 129/143 quantize stopped by SIGHUP/SIGTERM.',
    );

  const done = (p: Promise<ExitCode>) => p.then(setExit);

  samplingOptions(
    loadOptions(
      program
        .command('run')
        .description('generate text from a prompt and stream it to stdout')
        .argument('<model>', 'GGUF file, model name (phi3.5), hf:owner/repo:QUANT or URL')
        .argument('[prompt]', 'prompt text; "-" reads it from stdin (default: empty, start from BOS)'),
    ),
  )
    .option('--chat', 'apply the model’s chat template to the prompt (with --system)')
    .option(
      '--prompt-cache <file>',
      'reuse the prompt prefix saved in this file, and save the evaluated prompt to it',
    )
    .action((model: string, prompt: string | undefined, opts) => done(runCommand(model, prompt, opts)));

  samplingOptions(
    loadOptions(
      program
        .command('chat')
        .description('interactive multi-turn chat (/reset, /exit; Ctrl-C stops an answer)')
        .argument('<model>', 'GGUF file, model name (phi3.5), hf:owner/repo:QUANT or URL'),
    ),
  )
    .option('--prompt-cache <file>', 'reuse the first prompt’s prefix saved in this file, and save it there')
    .action((model: string, opts) => done(chatCommand(model, opts)));

  program
    .command('inspect')
    .description('print a GGUF file’s metadata, tensor types and totals (the @quant/gguf inspector)')
    .argument('<file>', 'GGUF file path or http(s) URL (only the header is read)')
    .option('--tensors', 'also print the tensor table')
    .option('--json', 'machine-readable output')
    .option('--full', 'with --json: do not shorten long arrays')
    .action((file: string, opts) => done(inspectCommand(file, opts)));

  loadOptions(
    program
      .command('perplexity')
      .description('perplexity over a text file, chunked as llama-perplexity chunks it (default --ctx 512)')
      .argument('<model>', 'GGUF file, model name (phi3.5), hf:owner/repo:QUANT or URL')
      .requiredOption('-f, --file <path>', 'text file to score'),
    `tokens per scored chunk (default: ${DEFAULT_PERPLEXITY_CTX}, as llama-perplexity)`,
  )
    .option('--chunks <n>', 'score at most n chunks (default: all)', parseInteger(1))
    .option('--json', 'print the result as JSON')
    .action((model: string, opts) => done(perplexityCommand(model, opts)));

  loadOptions(
    program
      .command('bench')
      .description('prompt processing (pp) and generation (tg) speed, as llama-bench measures it')
      .argument('<model>', 'GGUF file, model name (phi3.5), hf:owner/repo:QUANT or URL')
      .option('-p, --n-prompt <n>', 'prompt tokens per pp run; 0 skips pp', parseInteger(0), 512)
      .option('-n, --n-gen <n>', 'tokens per tg run; 0 skips tg', parseInteger(0), 128)
      .option('-r, --repetitions <n>', 'timed runs per test (after one warm-up)', parseInteger(1), 5)
      .option('--json', 'print results as JSON'),
    'context size in tokens (default: just enough for the runs, max(--n-prompt, --n-gen))',
  ).action((model: string, opts) => done(benchCommand(model, opts)));

  program
    .command('quantize')
    .description('quantize an F32/F16/BF16 GGUF with llama-quantize’s per-tensor rules')
    .argument('<input>', 'F32/F16/BF16 GGUF model')
    .argument(
      '<output>',
      'GGUF file to write (via a temporary file renamed into place when complete), or "-" for stdout (ignored with --dry-run)',
    )
    .argument('<type>', `${QUANTIZE_FILE_TYPES.slice(0, -1).join(', ')} or ${QUANTIZE_FILE_TYPES.at(-1)}`)
    .option('--pure', 'one type for every 2-D weight (no mix rules)')
    .option('--dry-run', 'print the tensor → type plan and the reasons; write nothing')
    .option('--force', 'replace an existing output file (only once the new file is complete)')
    .option(
      '--threads <n>',
      'worker threads (default: all CPUs; at most the number of CPUs, larger values are lowered to it)',
      parseInteger(1, 1024),
    )
    .option('--json', 'print the plan (with --dry-run) or the result as JSON')
    .option('-q, --quiet', 'no progress bar')
    .action((input: string, output: string, type: string, opts) =>
      done(quantizeCommand(input, output, type, opts)),
    );

  program
    .command('pull')
    .description(
      'download a model into the Hugging Face cache: a name (phi3.5), hf:owner/repo:Q4_K_M or a URL',
    )
    .argument('<model>', 'model name, hf: reference or URL')
    .option('--token <token>', 'Hugging Face access token for gated models (default: $HF_TOKEN)')
    .option('--json', 'print the resolved model as JSON')
    .option('-q, --quiet', 'no progress bar')
    .action((model: string, opts) => done(pullCommand(model, opts)));

  program
    .command('list')
    .description(
      'list the models in the Hugging Face cache (reference, size, quantization, architecture, last use)',
    )
    .option('--json', 'machine-readable output')
    .action((opts) => done(listCommand(opts)));

  program
    .command('rm')
    .description('remove a model from the cache (blobs still used by another snapshot are kept)')
    .argument('<model>', 'model name, hf:owner/repo[:QUANT | /file.gguf] or URL')
    .option('--json', 'print what was removed as JSON')
    .action((model: string, opts) => done(rmCommand(model, opts)));

  registerServeCommand(program, loadOptions, done);

  return program;
}

/** Runs `quant` with `argv` (as process.argv: node, script, args…); prints errors; returns the exit code. */
export async function main(argv: readonly string[]): Promise<ExitCode> {
  let code: ExitCode = EXIT.OK;
  const program = createProgram((c) => {
    code = c;
  });
  program.exitOverride();
  for (const c of program.commands) c.exitOverride();
  try {
    if (argv.length <= 2) {
      program.outputHelp();
      return EXIT.USAGE;
    }
    await program.parseAsync(expandLlamaShortFlags(argv));
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (
        e.code === 'commander.helpDisplayed' ||
        e.code === 'commander.version' ||
        e.code === 'commander.help'
      )
        return EXIT.OK;
      return EXIT.USAGE;
    }
    const { message, exitCode } = describeError(e);
    process.stderr.write(`${errColors.red('quant: error:')} ${message}\n`);
    if (process.env.QUANT_DEBUG && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
    return exitCode;
  }
}
