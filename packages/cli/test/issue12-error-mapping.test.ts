/** describeError for the error codes issue 12 added to @quant/runtime and for unreadable GGUF sources. */
import { GGUFError } from '@quant/gguf';
import {
  ContextTooLargeError,
  NonFiniteLogitsError,
  QuantRuntimeError,
  TemplateLimitError,
} from '@quant/runtime';
import { describe, expect, it } from 'vitest';
import { describeError } from '../src/errors';
import { EXIT } from '../src/exit-codes';

describe('describeError (issue 12 codes)', () => {
  it('maps each new code to its documented exit code, on one line', () => {
    const cases: [unknown, number, RegExp][] = [
      [
        new ContextTooLargeError(10_000_000, 6.4e9, 2e9, 7_812_352, 'free memory'),
        EXIT.NO_MEMORY,
        /^out of memory: A 10000000-token context needs 6\.0 GiB .* \(use --ctx 7812352 or less\)$/,
      ],
      [
        new NonFiniteLogitsError(3, 512, 0, 512),
        EXIT.NON_FINITE,
        /^damaged model: The model produced non-finite logits/,
      ],
      [
        new TemplateLimitError('maxSteps', 200_000, 'more than 200000 evaluation steps were needed'),
        EXIT.UNSUPPORTED,
        /^unsupported chat template: .*maxSteps limit of 200000/,
      ],
      [new QuantRuntimeError('INVALID_PROMPT', 'Chat message 1 has role undefined'), EXIT.USAGE, /message 1/],
      [
        new GGUFError('GGUF_SOURCE_ERROR', 'cannot fetch http://h/m.gguf (bytes 0–9): ECONNREFUSED', {
          file: 'http://h/m.gguf',
          offset: 0,
        }),
        EXIT.NOT_FOUND,
        /^cannot read http:\/\/h\/m\.gguf: cannot fetch http:\/\/h\/m\.gguf .*ECONNREFUSED$/,
      ],
    ];
    for (const [error, exitCode, message] of cases) {
      const d = describeError(error);
      expect(d.exitCode, String(error)).toBe(exitCode);
      expect(d.message).toMatch(message);
      expect(d.message).not.toContain('\n');
    }
  });
});
