#!/usr/bin/env node
/** The `quant` executable. */
import { main } from './program.js';

// `quant run … | head` closes stdout early: stop quietly instead of crashing on EPIPE.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

main(process.argv).then(
  (code) => {
    process.exitCode = code;
    // Exit once stdout is flushed, even if a library left a handle open.
    process.stdout.write('', () => process.exit(code));
  },
  (e: unknown) => {
    process.stderr.write(`quant: unexpected error: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exit(1);
  },
);
