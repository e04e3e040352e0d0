#!/usr/bin/env bash
# Creates an empty package shell: scripts/new-package.sh <dir> "<description>"
set -euo pipefail
dir=$1; desc=$2
p=packages/$dir
mkdir -p "$p/src" "$p/test"
repo=$(node -p "require('./package.json').repository?.url ?? 'git+https://github.com/quant-js/quant.git'")
web=${repo#git+}; web=${web%.git}
cat > "$p/package.json" <<JSON
{
  "name": "@quant/$dir",
  "version": "0.0.0",
  "description": "$desc",
  "license": "MIT",
  "homepage": "$web/tree/main/packages/$dir#readme",
  "repository": { "type": "git", "url": "$repo", "directory": "packages/$dir" },
  "bugs": { "url": "$web/issues" },
  "keywords": ["llm", "gguf"],
  "engines": { "node": ">=20" },
  "type": "module",
  "main": "./dist/index.cjs",
  "module": "./dist/index.js",
  "types": "./dist/index.d.ts",
  "exports": {
    ".": {
      "import": { "types": "./dist/index.d.ts", "default": "./dist/index.js" },
      "require": { "types": "./dist/index.d.cts", "default": "./dist/index.cjs" }
    },
    "./package.json": "./package.json"
  },
  "files": ["dist"],
  "sideEffects": false,
  "scripts": {
    "build": "tsup",
    "test": "vitest run",
    "typecheck": "tsc --noEmit"
  }
}
JSON
cat > "$p/tsconfig.json" <<JSON
{
  "extends": "../../tsconfig.base.json",
  "compilerOptions": { "rootDir": "../..", "noEmit": true },
  "include": ["src", "test", "*.ts"]
}
JSON
cat > "$p/tsup.config.ts" <<TS
import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
});
TS
cat > "$p/vitest.config.ts" <<TS
import { packageProject } from '../../vitest.shared';

export default packageProject('$dir');
TS
