/**
 * Child process of model-file.test.ts: loads the model argv[3] on backend argv[2] and generates
 * (greedy, short generations, one after another) until either generation throws — reported as
 * {error: {name, code, message}} — or the file has been seen changed (size or mtime, polled with
 * stat) for 3 more generations — reported as {survived, sameText}: whether every generation gave
 * the first one's text. {ready} is printed after the first generation, so the test knows when to
 * change the file. Exit code 0 in both cases: a signal death or another exit code is the failure.
 */
import { statSync } from 'node:fs';
import { loadModel } from '@quant/runtime';

const [, , backend, path] = process.argv as [string, string, string, string];
const say = (m: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(m)}\n`);
const stamp = () => {
  const s = statSync(path, { bigint: true });
  return `${s.size}:${s.mtimeNs}`;
};

async function main(): Promise<void> {
  const before = stamp();
  const model = await loadModel(path, { backend: backend as 'native' | 'wasm', threads: 2, contextSize: 64 });
  let first: string | undefined;
  let sameText = true;
  let afterChange = 0;
  const deadline = Date.now() + 60_000;
  try {
    for (let i = 0; Date.now() < deadline; i++) {
      let text = '';
      for await (const piece of model.generate('a b c', { maxTokens: 8, temperature: 0 })) text += piece;
      if (first === undefined) {
        first = text;
        say({ ready: true, text });
      } else if (text !== first) sameText = false;
      if (stamp() !== before && ++afterChange > 3) {
        say({ survived: true, sameText, generations: i + 1 });
        return;
      }
    }
    say({ timedOut: true });
  } catch (e) {
    const err = e as { name?: string; code?: string; message?: string };
    say({ error: { name: err.name, code: err.code, message: err.message } });
  } finally {
    model.dispose();
  }
}

main().catch((e) => {
  say({ crashed: String((e as Error)?.stack ?? e) });
  process.exit(2);
});
