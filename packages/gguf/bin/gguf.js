#!/usr/bin/env node
// The `gguf` command. This file exists before the package is built, so installing the workspace never
// warns about a missing bin target; the command itself is dist/cli.js (built by tsup).
import '../dist/cli.js';
