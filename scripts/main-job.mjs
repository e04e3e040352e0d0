// The quick start's main job. Runs the `quant` CLI on the model given (default: stories260K from
// ../shared), or, while the CLI cannot run models yet, inspects the file with the `gguf` bin.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const model = process.argv[2] ?? join(root, '..', 'shared', 'models', 'stories260K.gguf');
const prompt = process.argv[3] ?? 'Once upon a time';
if (!existsSync(model)) {
  console.error(`main job: no model at ${model}. Pass one: pnpm start <model.gguf> ["prompt"]`);
  process.exit(2);
}
const cli = join(root, 'packages', 'cli', 'dist', 'bin.js');
const gguf = join(root, 'packages', 'gguf', 'dist', 'cli.js');
const args = existsSync(cli) ? [cli, 'run', model, prompt, '-n', '128'] : [gguf, 'inspect', model];
const r = spawnSync(process.execPath, args, { stdio: 'inherit' });
process.exit(r.status ?? 1);
