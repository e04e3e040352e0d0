/**
 * `hf:` references → local files, through @quant/hub (Node only: file system, Hugging Face cache).
 * Imported on demand, so loading a path or URL never loads @quant/hub. The browser build uses
 * ./hub.browser.ts, which has no import of @quant/hub at all.
 */
import type { HubOptions } from '@quant/hub';

/** The local files of an `hf:` reference (the parts of a split set, in order), downloaded once into the cache. */
export async function resolveHubFiles(reference: string, options: HubOptions | undefined): Promise<string[]> {
  const { resolveModel } = await import('@quant/hub');
  const resolved = await resolveModel(reference, options);
  return resolved.files.length > 0 ? resolved.files : [resolved.path];
}
