/**
 * `--prompt-cache FILE` (as llama.cpp's): start from the session saved in FILE when it belongs to
 * this model (the common prefix of its tokens and the new prompt is reused, not evaluated again),
 * and save the session to FILE once the prompt is evaluated.
 */
import { existsSync } from 'node:fs';
import { type Model, type Session, SessionFileError } from '@quant/runtime';
import { kvTypeOf, type LoadFlags } from './load.js';
import { errColors, info } from './terminal.js';

/** The session to generate with: restored from `file` when it exists and fits, else a new one. */
export async function promptCacheSession(
  model: Model,
  file: string | undefined,
  flags: LoadFlags,
): Promise<Session> {
  const kvType = kvTypeOf(flags);
  if (file && existsSync(file)) {
    try {
      const s = await model.restoreSession(file, kvType ? { kvType } : {});
      if (!flags.quiet) info(errColors.dim(`prompt cache: ${s.position} tokens from ${file}`));
      return s;
    } catch (e) {
      if (!(e instanceof SessionFileError)) throw e;
      info(errColors.yellow(`prompt cache not used: ${e.message}; it will be rewritten`));
    }
  }
  return model.createSession(kvType ? { kvType } : {});
}

/** Saves the session to the prompt cache file (a failure is reported, not fatal). */
export async function savePromptCache(
  session: Session,
  file: string,
  quiet: boolean | undefined,
): Promise<void> {
  try {
    await session.save(file);
    if (!quiet) info(errColors.dim(`prompt cache: saved ${session.position} tokens to ${file}`));
  } catch (e) {
    info(errColors.yellow(`prompt cache not saved: ${(e as Error).message}`));
  }
}
