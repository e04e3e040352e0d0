import { defineConfig } from 'tsup';

export default defineConfig({
  // dist/bin.js is the `quant` executable (shebang kept from src/bin.ts); workspace packages stay external.
  entry: { index: 'src/index.ts', bin: 'src/bin.ts' },
  format: ['esm', 'cjs'],
  dts: { entry: { index: 'src/index.ts' } },
  clean: true,
  sourcemap: true,
  target: 'node20',
});
