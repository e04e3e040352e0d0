import { defineConfig } from 'tsup';

export default defineConfig({
  // Node only (file system, sockets); workspace packages and @huggingface/hub stay external.
  entry: { index: 'src/index.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
  platform: 'node',
});
