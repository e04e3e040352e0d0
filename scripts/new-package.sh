#!/usr/bin/env bash
# Creates an empty package shell: scripts/new-package.sh <dir> "<description>"
set -euo pipefail
dir=$1; desc=$2
p=packages/$dir
mkdir -p "$p/src" "$p/test"
cat > "$p/package.json" <<JSON
{
  "name": "@quant/$dir",
  "version": "0.0.0",
  "description": "$desc",
  "license": "MIT",
  "type": "module",
  "main": "./dist/index.cjs",
  "module": "./dist/index.js",
  "types": "./dist/index.d.ts",
  "exports": {
    ".": {
      "types": "./dist/index.d.ts",
      "import": "./dist/index.js",
      "require": "./dist/index.cjs"
    }
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
