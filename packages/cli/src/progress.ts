/**
 * Progress bars on stderr (cli-progress) when stderr is a terminal; nothing but the final summary
 * line otherwise, so logs and test output stay clean.
 */
import cliProgress from 'cli-progress';
import { errColors } from './terminal.js';

export interface Progress {
  /** Moves the bar to `value` (of `total`), with an optional short status text. */
  update(value: number, status?: string): void;
  /** Removes the bar. */
  stop(): void;
}

export interface ProgressOptions {
  label: string;
  total: number;
  /** Show a bar (default: stderr is a TTY). */
  enabled?: boolean;
  /** Render value/total as this unit (default: plain counts). */
  format?: 'count' | 'percent';
}

const NONE: Progress = { update() {}, stop() {} };

export function createProgress(o: ProgressOptions): Progress {
  const enabled = o.enabled ?? process.stderr.isTTY === true;
  if (!enabled || o.total <= 0) return NONE;
  const counts = o.format === 'percent' ? '{percentage}%' : '{value}/{total}';
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `${errColors.cyan(o.label)} {bar} ${counts} {status}`,
      barsize: 30,
      hideCursor: true,
      clearOnComplete: true,
      stopOnComplete: false,
      etaBuffer: 20,
      fps: 10,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(o.total, 0, { status: '' });
  let stopped = false;
  return {
    update(value, status) {
      if (!stopped) bar.update(value, { status: status ?? '' });
    },
    stop() {
      if (stopped) return;
      stopped = true;
      bar.stop();
    },
  };
}
