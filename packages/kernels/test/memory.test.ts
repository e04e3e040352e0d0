/**
 * Memory comes back after dispose(): 200 load → use → dispose cycles of a kernels instance on each
 * backend, in a child `node --expose-gc` that collects garbage after every cycle (so RSS measures
 * what stays reachable, not GC timing) and keeps every disposed object referenced (dispose() itself
 * must let go). Bound: RSS may grow at most GROWTH_MIB between cycle 20 (after warm-up: JIT code,
 * the compiled wasm module, malloc arenas) and cycle 200. Each wasm instance owns ≥ 16 MiB of
 * linear memory (the module's initial size) plus the ~5.5 MiB a cycle allocates, so keeping even two
 * of the 180 measured instances alive breaks the bound; measured: wasm +2 MiB, native +4 MiB (the
 * rest of native's growth is glibc's caches settling, flat after ~700 cycles). Before the fix,
 * wasm grew 188 → 1293 MiB over 200 cycles (every instance stayed referenced by emnapi's default
 * context).
 */
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleScript, runScript } from '../../test-utils/src/child';
import { nativeBuilt, wasmBuilt } from './helpers';

const CYCLES = 200;
const GROWTH_MIB = 32;

describe('kernels load/dispose cycles return their memory', () => {
  let script: string;
  beforeAll(async () => {
    script = await bundleScript(join(__dirname, 'children', 'load-dispose.ts'));
  });
  afterAll(() => rmSync(dirname(script), { recursive: true, force: true }));

  for (const [backend, built] of [
    ['wasm', wasmBuilt],
    ['wasm-st', wasmBuilt],
    ['native', nativeBuilt],
  ] as const) {
    it.skipIf(!built)(
      `${backend}: ${CYCLES} cycles grow RSS by less than ${GROWTH_MIB} MiB after warm-up`,
      async () => {
        const r = await runScript(script, [backend, String(CYCLES), String(GROWTH_MIB)], {
          nodeArgs: ['--expose-gc'],
          timeoutMs: 240_000,
        });
        const last = r.messages[r.messages.length - 1] ?? {};
        const samples = r.messages
          .filter((m: Record<string, unknown>) => 'cycle' in m)
          .map((m: Record<string, unknown>) => `${m.cycle}: ${((m.rss as number) / 2 ** 20).toFixed(0)} MiB`);
        const log = `${samples.join(', ')}\n${r.stderr.slice(-3000)}`;
        expect(r.code, log).toBe(0);
        expect(last.overLimit, `RSS grew past the bound at cycle ${last.cycle}: ${log}`).toBeUndefined();
        expect(last.done, log).toBe(true);
        const growth = ((last.rss as number) - (last.warm as number)) / 2 ** 20;
        console.log(
          `[kernels memory] ${backend}: RSS after warm-up ${((last.warm as number) / 2 ** 20).toFixed(1)} MiB, growth over ${CYCLES - 20} cycles ${growth.toFixed(1)} MiB`,
        );
        expect(growth).toBeLessThan(GROWTH_MIB);
      },
      300_000,
    );
  }
});
