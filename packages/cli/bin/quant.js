#!/usr/bin/env node
// The `quant` command. This file exists before the package is built, so installing the workspace never
// warns about a missing bin target; the command itself is dist/bin.js (built by tsup).
import '../dist/bin.js';
