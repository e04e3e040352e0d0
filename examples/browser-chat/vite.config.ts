import { defineConfig } from 'vite';

// Cross-origin isolation (COOP/COEP) lets a page use SharedArrayBuffer, which multi-threaded wasm
// needs; the single-threaded build runs without it. Nothing else is configured: @quant/runtime's
// "browser" export condition, its wasm module and its model worker are found by Vite on its own.
const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

export default defineConfig({
  base: './',
  server: { headers: isolation },
  preview: { headers: isolation },
  build: { target: 'es2022' },
});
