/**
 * Third-party architecture plugins: `--plugin <package or path>` (repeatable) and the
 * `QUANT_PLUGINS` variable (a comma- or path-separator-separated list), imported before the model is
 * opened. A plugin module registers its architectures in @quant/plugin-api's registry when imported
 * (the registry lives on globalThis, so a plugin bundling its own copy of the API still registers
 * where the runtime looks).
 */
import { existsSync, statSync } from 'node:fs';
import { delimiter, isAbsolute, resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import { resolve as resolveImport } from 'import-meta-resolve';
import { CliError } from './errors.js';

/** The environment variable naming plugins to load (in addition to `--plugin`). */
export const PLUGINS_ENV = 'QUANT_PLUGINS';

/** The plugin specifiers of `--plugin` flags and `QUANT_PLUGINS`, flags first, each once. */
export function pluginSpecs(flags: readonly string[] | undefined, env: string | undefined): string[] {
  const fromEnv = (env ?? '')
    .split(new RegExp(`[,${delimiter === ';' ? ';' : ':'}]`))
    .map((s) => s.trim())
    .filter(Boolean);
  const all = [...(flags ?? []).map((s) => s.trim()).filter(Boolean), ...fromEnv];
  return [...new Set(all)];
}

/** A path (relative, absolute or ~-free file name with a separator or extension that exists), not a package name. */
function isPathLike(spec: string, cwd: string): boolean {
  if (spec.startsWith('.') || isAbsolute(spec) || spec.startsWith('file:')) return true;
  // A bare name like "foo.mjs" that exists here is meant as a file; "@scope/name" and "name" are packages.
  return /\.[cm]?js$/.test(spec) && existsSync(resolvePath(cwd, spec));
}

/** The URL to import for `spec`, resolved from `cwd` (the user's project), as Node resolves an import there. */
export function resolvePlugin(spec: string, cwd: string = process.cwd()): string {
  if (spec.startsWith('file:')) return spec;
  if (isPathLike(spec, cwd)) {
    const path = resolvePath(cwd, spec);
    if (!existsSync(path))
      throw new CliError(
        'PLUGIN_NOT_FOUND',
        `plugin file not found: ${path} (from --plugin / ${PLUGINS_ENV} "${spec}")`,
      );
    // A directory is a package folder: resolve it as Node would resolve its main entry.
    if (statSync(path).isDirectory())
      return resolveImport(pathToFileURL(`${path}/`).href, pathToFileURL(`${cwd}/`).href);
    return pathToFileURL(path).href;
  }
  const tried: string[] = [];
  // The user's project first, then wherever this CLI is installed (e.g. a global install beside the plugin).
  for (const parent of [pathToFileURL(`${cwd}/`).href, import.meta.url]) {
    try {
      return resolveImport(spec, parent);
    } catch (e) {
      tried.push(`${parent}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  throw new CliError(
    'PLUGIN_NOT_FOUND',
    `plugin package "${spec}" is not installed (looked from ${cwd} and from the quant CLI's folder); ` +
      `install it (npm install ${spec}) or pass a path to the plugin's module`,
    { cause: new Error(tried.join('; ')) },
  );
}

/** One loaded plugin module. */
export interface LoadedPlugin {
  spec: string;
  url: string;
}

/**
 * Imports every plugin of `--plugin` and `QUANT_PLUGINS`, in order. A module that exports an
 * architecture plugin as its default export without registering it is registered too.
 */
export async function loadPlugins(
  flags: readonly string[] | undefined,
  env: string | undefined = process.env[PLUGINS_ENV],
  cwd: string = process.cwd(),
): Promise<LoadedPlugin[]> {
  const loaded: LoadedPlugin[] = [];
  for (const spec of pluginSpecs(flags, env)) {
    const url = resolvePlugin(spec, cwd);
    let mod: Record<string, unknown>;
    try {
      mod = (await import(url)) as Record<string, unknown>;
    } catch (e) {
      throw new CliError(
        'PLUGIN_FAILED',
        `plugin "${spec}" failed to load: ${(e as Error)?.message ?? String(e)} (${url})`,
        { cause: e },
      );
    }
    await registerDefaultExport(mod);
    loaded.push({ spec, url });
  }
  return loaded;
}

/** Registers `export default plugin` when the module did not register it itself. */
async function registerDefaultExport(mod: Record<string, unknown>): Promise<void> {
  const p = mod.default as { name?: unknown; layer?: unknown; readHyperparameters?: unknown } | undefined;
  if (!p || typeof p !== 'object' || typeof p.name !== 'string' || typeof p.layer !== 'function') return;
  if (typeof p.readHyperparameters !== 'function') return;
  const api = await import('@quant/plugin-api');
  if (api.getArchitecture(p.name) === p) return;
  if (api.getArchitecture(p.name)) return; // the name is taken (e.g. registered under it by the module)
  api.registerArchitecture(p as never);
}
