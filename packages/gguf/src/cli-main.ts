import { parseArgs } from 'node:util';
import { GGUFError } from './errors.js';
import { formatInspect, inspectJSON } from './inspect.js';
import { parseGGUF } from './parse.js';

export interface CliIO {
  out: (s: string) => void;
  err: (s: string) => void;
}

export const USAGE = `usage: gguf inspect <file|url> [--json] [--tensors] [--full]

  inspect   print a GGUF file's header: metadata (long values cut as llama.cpp does),
            tensor type counts and totals (parameters, bytes, bits per weight)
  --tensors also print the tensor table (name, type, shape, bytes, offset)
  --json    machine-readable output with the same content
  --full    with --json: do not shorten long arrays

Reads local files with positioned reads and http(s) URLs with Range requests: only the header
is fetched.`;

/** Runs the `gguf` command; returns the exit code (0 ok, 1 bad file, 2 usage). */
export async function runCli(argv: string[], io: CliIO): Promise<number> {
  let parsed: ReturnType<
    typeof parseArgs<{
      options: {
        json: { type: 'boolean' };
        tensors: { type: 'boolean' };
        full: { type: 'boolean' };
        help: { type: 'boolean'; short: 'h' };
      };
      allowPositionals: true;
    }>
  >;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        json: { type: 'boolean' },
        tensors: { type: 'boolean' },
        full: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
    });
  } catch (e) {
    io.err(`gguf: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.out(USAGE);
    return 0;
  }
  const [command, target, ...rest] = positionals;
  if (command !== 'inspect' || target === undefined || rest.length > 0) {
    io.err(command === undefined ? USAGE : `gguf: expected 'inspect <file|url>'\n\n${USAGE}`);
    return 2;
  }
  try {
    const file = await parseGGUF(target);
    try {
      if (values.json) {
        const obj = inspectJSON(file, {
          tensors: values.tensors ?? false,
          maxArrayItems: values.full ? 0 : 16,
        });
        io.out(JSON.stringify(obj, null, 2));
      } else {
        io.out(formatInspect(file, { tensors: values.tensors ?? false }));
      }
    } finally {
      await file.close();
    }
    return 0;
  } catch (e) {
    if (e instanceof GGUFError) {
      io.err(`gguf: ${e.message}`);
      return 1;
    }
    throw e;
  }
}
