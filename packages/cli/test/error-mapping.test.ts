/** describeError: the libraries' typed errors → one line and the README's exit code. */
import { GGUFError } from '@quant/gguf';
import { QuantizeError } from '@quant/quantize';
import { AbortError, ContextFullError, QuantRuntimeError, UnknownArchitectureError } from '@quant/runtime';
import { describe, expect, it } from 'vitest';
import { CliError, describeError } from '../src/errors';
import { EXIT } from '../src/exit-codes';

/** A @quant/kernels KernelError as it arrives (cli does not depend on kernels directly). */
function kernelError(code: string, message: string): Error {
  const e = new Error(message) as Error & { code: string };
  e.name = 'KernelError';
  e.code = code;
  return e;
}

describe('describeError', () => {
  it('maps each library error code to its exit code, on one line', () => {
    const cases: [unknown, number, RegExp][] = [
      [
        new GGUFError('GGUF_BAD_MAGIC', 'bad magic', { file: 'a.gguf', offset: 0 }),
        EXIT.BAD_FILE,
        /^a\.gguf is not a GGUF file: bad magic$/,
      ],
      [
        new GGUFError('GGUF_TRUNCATED', 'ends early', { file: 'a.gguf', offset: 9 }),
        EXIT.BAD_FILE,
        /^a\.gguf: invalid GGUF: ends early \(a\.gguf, at byte 9\)$/,
      ],
      [
        new UnknownArchitectureError('mamba', ['llama', 'phi3']),
        EXIT.UNSUPPORTED,
        /^unsupported architecture "mamba"; installed architecture plugins: llama, phi3\./,
      ],
      [new ContextFullError(16, 10, 8), EXIT.CONTEXT, /context is full.*--ctx/],
      [new QuantRuntimeError('INVALID_OPTION', 'Option topP = 2 is invalid'), EXIT.USAGE, /topP/],
      [
        new QuantRuntimeError('UNSUPPORTED_TENSOR_TYPE', 'Could not load tensor "x"'),
        EXIT.UNSUPPORTED,
        /^unsupported model: /,
      ],
      [new AbortError(), EXIT.INTERRUPTED, /interrupted/],
      [
        kernelError('OUT_OF_MEMORY', 'cannot allocate 9 GiB'),
        EXIT.NO_MEMORY,
        /^out of memory: cannot allocate/,
      ],
      [kernelError('BACKEND_UNAVAILABLE', 'no wasm module'), EXIT.UNSUPPORTED, /^backend unavailable/],
      [new QuantizeError('UNKNOWN_FILE_TYPE', 'unknown quantization type "Q9"'), EXIT.USAGE, /Q9/],
      [
        new QuantizeError('REQUANTIZE_NOT_ALLOWED', 'tensor x is already Q8_0'),
        EXIT.UNSUPPORTED,
        /already Q8_0/,
      ],
      [new QuantizeError('WRITE_FAILED', 'writing o.gguf failed: ENOSPC'), EXIT.WRITE_FAILED, /ENOSPC/],
      [new QuantizeError('ABORTED', 'aborted'), EXIT.INTERRUPTED, /aborted/],
      [
        new QuantizeError('READ_FAILED', 'cannot read x', {
          cause: new GGUFError('GGUF_BAD_MAGIC', 'bad magic', { file: 'x' }),
        }),
        EXIT.BAD_FILE,
        /^x is not a GGUF file/,
      ],
      [
        Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT', path: '/m.gguf' }),
        EXIT.NOT_FOUND,
        /^\/m\.gguf: no such file$/,
      ],
      [new CliError('MODEL_TOO_LARGE', 'too big\nreally'), EXIT.NO_MEMORY, /^too big really$/],
      [new Error('something odd'), EXIT.FAILURE, /^something odd$/],
      ['a string', EXIT.FAILURE, /^a string$/],
    ];
    for (const [err, code, message] of cases) {
      const d = describeError(err);
      expect(d.exitCode, String(err)).toBe(code);
      expect(d.message).toMatch(message);
      expect(d.message).not.toContain('\n');
    }
  });
});
