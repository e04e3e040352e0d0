import { PluginError, UnknownArchitectureError } from './errors.js';
import type { AnyArchitecturePlugin, ArchitecturePlugin, BaseHyperparameters } from './types.js';

/**
 * The registry lives on a global symbol so that every copy of @quant/plugin-api in a process (ESM
 * and CJS builds, duplicated installs) sees the same plugins.
 */
const REGISTRY_KEY = Symbol.for('@quant/plugin-api/registry/v1');

interface RegistryState {
  /** key (name or alias) → plugin */
  byKey: Map<string, AnyArchitecturePlugin>;
}

function state(): RegistryState {
  const g = globalThis as unknown as Record<symbol, RegistryState | undefined>;
  let s = g[REGISTRY_KEY];
  if (!s) {
    s = { byKey: new Map() };
    g[REGISTRY_KEY] = s;
  }
  return s;
}

/** One registered architecture, as `listArchitectures` reports it. */
export interface ArchitectureInfo {
  name: string;
  aliases: readonly string[];
  description?: string;
}

const REQUIRED_FUNCTIONS = ['readHyperparameters', 'tensors', 'embed', 'layer', 'output'] as const;

function checkPlugin(plugin: AnyArchitecturePlugin): void {
  if (!plugin || typeof plugin !== 'object')
    throw new PluginError('INVALID_PLUGIN', 'registerArchitecture: expected a plugin object.');
  if (typeof plugin.name !== 'string' || plugin.name.length === 0) {
    throw new PluginError(
      'INVALID_PLUGIN',
      'registerArchitecture: plugin.name must be a non-empty string (the general.architecture it runs).',
    );
  }
  for (const fn of REQUIRED_FUNCTIONS) {
    if (typeof plugin[fn] !== 'function') {
      throw new PluginError(
        'INVALID_PLUGIN',
        `registerArchitecture: plugin "${plugin.name}" lacks the function ${fn}().`,
      );
    }
  }
  if (plugin.apiVersion !== undefined && plugin.apiVersion !== 1 && plugin.apiVersion !== 2) {
    throw new PluginError(
      'INVALID_PLUGIN',
      `registerArchitecture: plugin "${plugin.name}" asks for plugin API ${String(plugin.apiVersion)}; this @quant/plugin-api runs versions 1 and 2. Update @quant/plugin-api (and @quant/runtime), or build the plugin for API 2.`,
    );
  }
  for (const fn of [
    'batchKey',
    'memory',
    'onContextChange',
    'keyRope',
    'createSessionState',
    'disposeSessionState',
  ] as const) {
    if (plugin[fn] !== undefined && typeof plugin[fn] !== 'function') {
      throw new PluginError(
        'INVALID_PLUGIN',
        `registerArchitecture: plugin "${plugin.name}".${fn} must be a function when present.`,
      );
    }
  }
  if (
    plugin.aliases !== undefined &&
    (!Array.isArray(plugin.aliases) || plugin.aliases.some((a) => typeof a !== 'string' || !a))
  ) {
    throw new PluginError(
      'INVALID_PLUGIN',
      `registerArchitecture: plugin "${plugin.name}".aliases must be an array of non-empty strings.`,
    );
  }
}

export interface RegisterOptions {
  /** Take over names/aliases currently held by another plugin (default false → error). */
  replace?: boolean;
}

/**
 * Registers an architecture plugin under its `name` and `aliases`. Registering a plugin with the
 * same `name` again replaces the earlier one (so a package loaded twice is harmless). A name or
 * alias held by a plugin of a different name fails with `DUPLICATE_ARCHITECTURE` unless
 * `{ replace: true }`.
 */
export function registerArchitecture<H extends BaseHyperparameters, S>(
  plugin: ArchitecturePlugin<H, S>,
  options: RegisterOptions = {},
): void {
  const p = plugin as AnyArchitecturePlugin;
  checkPlugin(p);
  const { byKey } = state();
  const keys = [p.name, ...(p.aliases ?? [])];
  for (const key of keys) {
    const held = byKey.get(key);
    if (held && held.name !== p.name && !options.replace) {
      throw new PluginError(
        'DUPLICATE_ARCHITECTURE',
        `registerArchitecture: "${key}" is already registered by plugin "${held.name}"; pass { replace: true } to take it over.`,
      );
    }
  }
  // Drop every key of an earlier plugin with the same name, then add ours.
  for (const [key, held] of byKey) if (held.name === p.name) byKey.delete(key);
  for (const key of keys) byKey.set(key, p);
}

/** Removes a plugin (by name or alias) and all its keys. Returns whether one was removed. */
export function unregisterArchitecture(nameOrAlias: string): boolean {
  const { byKey } = state();
  const p = byKey.get(nameOrAlias);
  if (!p) return false;
  for (const [key, held] of byKey) if (held === p) byKey.delete(key);
  return true;
}

/** The plugin registered for a `general.architecture` value, or undefined. */
export function getArchitecture(architecture: string): AnyArchitecturePlugin | undefined {
  return state().byKey.get(architecture);
}

/** Like `getArchitecture` but throws `UnknownArchitectureError` listing the registered names. */
export function requireArchitecture(architecture: string): AnyArchitecturePlugin {
  const p = getArchitecture(architecture);
  if (!p) throw new UnknownArchitectureError(architecture, [...state().byKey.keys()].sort());
  return p;
}

/** Every registered plugin once, sorted by name. */
export function listArchitectures(): ArchitectureInfo[] {
  const seen = new Set<AnyArchitecturePlugin>();
  const out: ArchitectureInfo[] = [];
  for (const p of state().byKey.values()) {
    if (seen.has(p)) continue;
    seen.add(p);
    const info: ArchitectureInfo = { name: p.name, aliases: [...(p.aliases ?? [])] };
    if (p.description) info.description = p.description;
    out.push(info);
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** Identity function that checks a plugin's types (`H`, `S` inferred). */
export function defineArchitecture<H extends BaseHyperparameters, S = undefined>(
  plugin: ArchitecturePlugin<H, S>,
): ArchitecturePlugin<H, S> {
  return plugin;
}
