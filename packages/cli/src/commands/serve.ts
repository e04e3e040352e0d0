/**
 * `quant serve <model.gguf>`: an OpenAI-compatible HTTP server (@quant/server). It listens first
 * (GET /health answers 503 while the model loads), then serves until SIGTERM or SIGINT, which drain
 * it: no new connections, running and queued requests finish (at most --shutdown-timeout seconds),
 * exit 0. A second signal stops at once.
 */
import { basename } from 'node:path';
import { type RunningServer, startServer } from '@quant/server';
import { type Command, Option } from 'commander';
import { CliError } from '../errors.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { checkInputFile, type LoadFlags, openModel } from '../load.js';
import { parseInteger, parseNumber } from '../options.js';
import { errColors, info } from '../terminal.js';
import { resolveModelArg } from './hub.js';

export interface ServeFlags extends LoadFlags {
  host?: string;
  port?: number;
  parallel?: number;
  queue?: number;
  timeout?: number;
  apiKey?: string;
  cors?: string[];
  modelId?: string;
  maxBody?: number;
  shutdownTimeout?: number;
  prefixCache?: boolean;
  jsonLogs?: boolean;
}

/** `--cors a,b --cors c` → ["a", "b", "c"]. */
function collectOrigins(value: string, previous: string[] | undefined): string[] {
  const list = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  return [...(previous ?? []), ...list];
}

/** The model id clients send: --model-id, else the file (or model) name without `.gguf`. */
export function defaultModelId(path: string): string {
  return basename(path).replace(/\.gguf$/i, '');
}

/** Adds `serve` to the program (`loadOptions` adds --ctx/--threads/--backend/--quiet). */
export function registerServeCommand(
  program: Command,
  loadOptions: (c: Command) => Command,
  done: (p: Promise<ExitCode>) => Promise<void>,
): void {
  loadOptions(
    program
      .command('serve')
      .description('serve the model over an OpenAI-compatible HTTP API (chat, completions, SSE streaming)')
      .argument('<model>', 'GGUF model file, model name or hf: reference (as for run)'),
  )
    .option('--host <address>', 'interface to listen on (default 127.0.0.1: this machine only)')
    .option('--port <n>', 'TCP port; 0 picks a free one (default 8080)', parseInteger(0, 65535))
    .option(
      '--parallel <n>',
      'requests generated at once (default: up to 4, as many KV caches as half the free memory holds)',
      parseInteger(1, 4096),
    )
    .option('--queue <n>', 'requests that may wait for a slot before 503 (default 64)', parseInteger(0))
    .option(
      '--timeout <seconds>',
      'abort a request after this long, queueing included (default 600)',
      parseNumber(0.001),
    )
    .addOption(
      new Option('--api-key <key>', 'require "Authorization: Bearer <key>" (all routes but /health)').env(
        'QUANT_API_KEY',
      ),
    )
    .option(
      '--cors <origins>',
      'origins allowed by CORS, comma-separated or repeated; "*" for any (default: none)',
      collectOrigins,
    )
    .option(
      '--model-id <id>',
      'model name for clients and GET /v1/models (default: the file name without .gguf)',
    )
    .option('--max-body <bytes>', 'largest request body (default 4194304)', parseInteger(1))
    .option(
      '--shutdown-timeout <seconds>',
      'on SIGTERM/SIGINT, how long running requests may take to finish (default 30)',
      parseNumber(0),
    )
    .option('--no-prefix-cache', 'do not keep a slot’s KV cache between requests (no prompt prefix reuse)')
    .option('--json-logs', 'log one JSON object per request on stderr instead of a text line')
    .action((model: string, opts: ServeFlags) => done(serveCommand(model, opts)));
}

/** Resolves with the first of SIGTERM / SIGINT. */
function nextSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (s: NodeJS.Signals) => {
      process.off('SIGTERM', on);
      process.off('SIGINT', on);
      resolve(s);
    };
    process.on('SIGTERM', on);
    process.on('SIGINT', on);
  });
}

export async function serveCommand(modelArg: string, flags: ServeFlags): Promise<ExitCode> {
  if (flags.apiKey !== undefined && flags.apiKey.length === 0)
    throw new CliError('USAGE', '--api-key (or QUANT_API_KEY) is empty; give a key or leave it unset');
  // A model name or hf: reference is resolved (downloaded if missing) before listening, and a missing
  // file fails here, with its usual exit code, rather than after the port is open.
  const modelPath = (await resolveModelArg(modelArg, flags)).path;
  checkInputFile(modelPath);
  const modelId = flags.modelId ?? defaultModelId(modelArg);
  const loading = openModel(modelPath, flags).then((r) => r.model);
  // Catch here too: if listening fails, the load's own failure must not go unhandled.
  loading.catch(() => {});
  const signal = nextSignal();
  let server: RunningServer;
  try {
    server = await startServer({
      model: loading,
      modelId,
      ...(flags.host !== undefined ? { host: flags.host } : {}),
      ...(flags.port !== undefined ? { port: flags.port } : {}),
      ...(flags.parallel !== undefined ? { parallel: flags.parallel } : {}),
      ...(flags.queue !== undefined ? { queue: flags.queue } : {}),
      ...(flags.timeout !== undefined
        ? { requestTimeoutMs: Math.max(1, Math.round(flags.timeout * 1000)) }
        : {}),
      ...(flags.apiKey !== undefined ? { apiKey: flags.apiKey } : {}),
      ...(flags.cors && flags.cors.length > 0 ? { cors: flags.cors } : {}),
      ...(flags.maxBody !== undefined ? { bodyLimitBytes: flags.maxBody } : {}),
      prefixCache: flags.prefixCache !== false,
      jsonLogs: flags.jsonLogs === true,
    });
  } catch (e) {
    void loading.then(
      (m) => m.dispose(),
      () => {},
    );
    throw e;
  }
  info(`listening on ${server.url} (loading ${modelPath})`);
  const loaded = await Promise.race([
    server.ready.then(
      () => 'ready' as const,
      (e: unknown) => e,
    ),
    signal,
  ]);
  if (loaded !== 'ready') {
    await server.close({ timeoutMs: 0 });
    void loading.then(
      (m) => m.dispose(),
      () => {},
    );
    if (loaded === 'SIGINT' || loaded === 'SIGTERM') return loaded === 'SIGINT' ? EXIT.INTERRUPTED : EXIT.OK;
    // The load's own error (file, format, architecture…) maps to its usual exit code.
    throw (loaded as { cause?: unknown }).cause ?? loaded;
  }
  const model = await loading;
  const pool = server.state.pool;
  info(
    `serving "${modelId}" on ${server.url}: ${pool?.size} parallel slot${pool?.size === 1 ? '' : 's'}, ` +
      `queue ${pool?.queueLimit}, context ${model.contextSize} tokens${flags.apiKey ? ', API key required' : ''}`,
  );
  const first = await signal;
  const grace = flags.shutdownTimeout ?? 30;
  info(
    errColors.dim(
      `${first}: shutting down — no new connections; ${server.state.inflight.size} running or queued request(s) get up to ${grace} s (send it again to stop now)`,
    ),
  );
  const closing = server.close({ timeoutMs: grace * 1000 });
  const second = nextSignal().then(() => server.close({ timeoutMs: 0 }));
  void second;
  await closing;
  model.dispose();
  info(errColors.dim('stopped'));
  return EXIT.OK;
}
