import { afterEach, describe, expect, it } from 'vitest';
import {
  type ArchitecturePlugin,
  getArchitecture,
  listArchitectures,
  PluginError,
  registerArchitecture,
  requireArchitecture,
  UnknownArchitectureError,
  unregisterArchitecture,
} from '../src/index.js';

function fakePlugin(name: string, aliases?: string[]): ArchitecturePlugin {
  return {
    name,
    ...(aliases ? { aliases } : {}),
    description: `${name} test plugin`,
    readHyperparameters: () => ({
      nLayers: 1,
      nEmbd: 1,
      nVocab: 1,
      nKvHeads: 1,
      headDim: 1,
      contextLength: 1,
    }),
    tensors: () => [],
    embed: () => {},
    layer: () => {},
    output: () => {},
  };
}

afterEach(() => {
  for (const n of ['t-a', 't-b', 't-c']) unregisterArchitecture(n);
});

describe('registry', () => {
  it('registers under name and aliases, lists each plugin once', () => {
    const p = fakePlugin('t-a', ['t-a-alias']);
    registerArchitecture(p);
    expect(getArchitecture('t-a')).toBe(p);
    expect(getArchitecture('t-a-alias')).toBe(p);
    expect(listArchitectures().filter((i) => i.name === 't-a')).toEqual([
      { name: 't-a', aliases: ['t-a-alias'], description: 't-a test plugin' },
    ]);
  });

  it('re-registering the same name replaces the plugin and its aliases', () => {
    registerArchitecture(fakePlugin('t-a', ['old-alias']));
    const p2 = fakePlugin('t-a', ['new-alias']);
    registerArchitecture(p2);
    expect(getArchitecture('t-a')).toBe(p2);
    expect(getArchitecture('old-alias')).toBeUndefined();
    expect(getArchitecture('new-alias')).toBe(p2);
  });

  it('refuses a key held by another plugin unless replace is set', () => {
    registerArchitecture(fakePlugin('t-a', ['shared']));
    expect(() => registerArchitecture(fakePlugin('t-b', ['shared']))).toThrow(
      expect.objectContaining({ code: 'DUPLICATE_ARCHITECTURE' }),
    );
    const b = fakePlugin('t-b', ['shared']);
    registerArchitecture(b, { replace: true });
    expect(getArchitecture('shared')).toBe(b);
    unregisterArchitecture('shared');
  });

  it('rejects malformed plugins with INVALID_PLUGIN naming what is missing', () => {
    const bad = { ...fakePlugin('t-c') } as Partial<ArchitecturePlugin>;
    delete bad.layer;
    expect(() => registerArchitecture(bad as ArchitecturePlugin)).toThrow(/lacks the function layer\(\)/);
    expect(() => registerArchitecture({ ...fakePlugin('t-c'), name: '' })).toThrow(PluginError);
  });

  it('unknown architecture → UnknownArchitectureError listing registered names and the guide', () => {
    registerArchitecture(fakePlugin('t-a'));
    let err: unknown;
    try {
      requireArchitecture('nope-arch');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UnknownArchitectureError);
    const u = err as UnknownArchitectureError;
    expect(u.code).toBe('UNKNOWN_ARCHITECTURE');
    expect(u.registered).toContain('t-a');
    expect(u.message).toMatch(/nope-arch/);
    expect(u.message).toMatch(/t-a/);
    expect(u.message).toMatch(/plugin-authoring guide/);
  });

  it('is shared through a global symbol by separate copies of the module', async () => {
    // A query string makes vite load the module a second time, as a duplicate install would.
    // @ts-expect-error TypeScript cannot resolve the query-suffixed specifier
    const copy = (await import('../src/registry.js?second-copy')) as typeof import('../src/registry.js');
    expect(copy.getArchitecture).not.toBe(getArchitecture); // really a second module instance
    registerArchitecture(fakePlugin('t-a'));
    expect(copy.getArchitecture('t-a')?.name).toBe('t-a');
    copy.registerArchitecture(fakePlugin('t-b'));
    expect(getArchitecture('t-b')?.name).toBe('t-b');
  });
});
