/**
 * A disposed model gives its memory back: 200 × (loadModel → 4 greedy tokens → dispose) of a
 * small synthetic Llama (1.5 MB of F32 weights) on each backend, in a child `node --expose-gc`
 * that collects garbage after every cycle, so RSS measures what stayed reachable rather than GC
 * timing. Bound: RSS may grow at most GROWTH_MIB between cycle 20 (after warm-up: JIT code, the
 * compiled wasm module, malloc arenas) and cycle 200, and no file descriptor may be left open.
 * A wasm model holds ≥ 16 MiB of linear memory (the module's initial size), so keeping two of the
 * 180 measured ones alive breaks the bound. Measured after the fix: wasm +2 MiB, native +5 MiB.
 * Before it, wasm grew 103 → 455 MiB in 200 cycles (the issue saw 81 MB → 2.9 GB in 300 cycles of
 * a larger model): emnapi's default context kept every instance.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { availableBackends, bundleScript, runScript, writeSyntheticLlama } from '@quant/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const CYCLES = 200;
const GROWTH_MIB = 32;
const backends = await availableBackends('memory');

describe('loadModel/dispose cycles return their memory', () => {
  let script: string;
  let dir: string;
  let model: string;
  beforeAll(async () => {
    script = await bundleScript(join(__dirname, 'children', 'load-dispose-model.ts'));
    dir = mkdtempSync(join(tmpdir(), 'quant-memory-'));
    model = join(dir, 'm.gguf');
    await writeSyntheticLlama(model, { nEmbd: 128, nLayers: 2, nHeads: 4, nKvHeads: 2, nFF: 256, seed: 21 });
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(dirname(script), { recursive: true, force: true });
  });

  for (const backend of ['wasm', 'native'] as const) {
    it.skipIf(!backends[backend])(
      `${backend}: ${CYCLES} cycles grow RSS by less than ${GROWTH_MIB} MiB after warm-up and leave no file open`,
      async () => {
        const r = await runScript(script, [backend, model, String(CYCLES), String(GROWTH_MIB)], {
          nodeArgs: ['--expose-gc'],
          timeoutMs: 240_000,
        });
        const last = r.messages[r.messages.length - 1] ?? {};
        const samples = r.messages
          .filter((m) => 'cycle' in m)
          .map((m) => `${m.cycle}: ${((m.rss as number) / 2 ** 20).toFixed(0)} MiB`);
        const log = `${samples.join(', ')}\n${r.stdout.slice(-1000)}\n${r.stderr.slice(-3000)}`;
        expect(r.code, log).toBe(0);
        expect(last.overLimit, `RSS grew past the bound at cycle ${last.cycle}: ${log}`).toBeUndefined();
        expect(last.done, log).toBe(true);
        const growth = ((last.rss as number) - (last.warm as number)) / 2 ** 20;
        console.log(
          `[runtime memory] ${backend}: RSS after warm-up ${((last.warm as number) / 2 ** 20).toFixed(1)} MiB, growth over ${CYCLES - 20} cycles ${growth.toFixed(1)} MiB`,
        );
        expect(growth).toBeLessThan(GROWTH_MIB);
        if ((last.warmFds as number) >= 0) expect(last.fds).toBe(last.warmFds);
      },
      300_000,
    );
  }
});
