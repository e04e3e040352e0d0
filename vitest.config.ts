import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: ['packages/*/vitest.config.ts'],
    // Two cores: run test files in two workers at most.
    maxWorkers: 2,
  },
});
