/**
 * Model arguments for every command that takes one: a file, an `hf:` reference, a URL or a registry
 * name (`phi3.5`), resolved by @quant/hub — downloaded into the Hugging Face cache when missing, with
 * a progress bar (bytes, speed, ETA) on a terminal, and Ctrl-C leaving a resumable partial.
 */
import { type DownloadProgress, type HubOptions, type ResolvedModel, resolveModel } from '@quant/hub';
import cliProgress from 'cli-progress';
import { errColors, formatBytes, info } from '../terminal.js';

export interface HubFlags {
  /** Hugging Face access token (default: HF_TOKEN). */
  token?: string;
  quiet?: boolean;
}

/** A download bar on stderr when it is a terminal; nothing otherwise. */
function downloadBar(enabled: boolean): { update(p: DownloadProgress): void; stop(): void } {
  if (!enabled) return { update() {}, stop() {} };
  let bar: cliProgress.SingleBar | undefined;
  let file = '';
  let started = 0;
  let lastTransferred = 0;
  const stop = () => {
    bar?.stop();
    bar = undefined;
  };
  return {
    update(p) {
      if (p.file !== file || !bar) {
        stop();
        file = p.file;
        started = performance.now();
        lastTransferred = 0;
        const name = p.fileCount > 1 ? `${p.file} (${p.fileIndex}/${p.fileCount})` : p.file;
        bar = new cliProgress.SingleBar(
          {
            stream: process.stderr,
            format: `${errColors.cyan('pulling')} ${name} {bar} {percentage}% {bytes} {speed} ETA {eta_formatted} {phase}`,
            barsize: 24,
            hideCursor: true,
            clearOnComplete: true,
            etaBuffer: 50,
            fps: 10,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(p.total, p.downloaded, { bytes: '', speed: '', phase: '' });
      }
      lastTransferred = p.transferred || lastTransferred;
      const seconds = (performance.now() - started) / 1000;
      const speed = seconds > 0.2 ? `${formatBytes(Math.round(lastTransferred / seconds))}/s` : '';
      bar.update(p.downloaded, {
        bytes: `${formatBytes(p.downloaded)}/${formatBytes(p.total)}`,
        speed,
        phase: p.phase === 'verify' ? 'verifying sha256' : '',
      });
      if (p.phase === 'done') stop();
    },
    stop,
  };
}

/**
 * Resolves `arg` to local files (downloading when needed). Ctrl-C during a download stops it,
 * keeps the partial file for the next run, and rejects with the hub's ABORTED error.
 */
export async function resolveModelArg(
  arg: string,
  flags: HubFlags,
  extra: Pick<HubOptions, 'refresh'> = {},
): Promise<ResolvedModel> {
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once('SIGINT', onSigint);
  const bar = downloadBar(!flags.quiet && process.stderr.isTTY === true);
  try {
    const r = await resolveModel(arg, {
      ...extra,
      ...(flags.token !== undefined ? { token: flags.token } : {}),
      signal: controller.signal,
      onProgress: (p) => bar.update(p),
    });
    bar.stop();
    if (!flags.quiet && r.downloadedBytes > 0)
      info(errColors.dim(`downloaded ${r.reference} (${formatBytes(r.size)}) to ${r.path}`));
    return r;
  } finally {
    bar.stop();
    process.off('SIGINT', onSigint);
  }
}
