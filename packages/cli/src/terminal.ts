/** Where output goes, and colours only when that stream is a terminal (NO_COLOR / FORCE_COLOR honoured). */
import pc from 'picocolors';

type Colors = ReturnType<typeof pc.createColors>;

function wantsColor(stream: NodeJS.WriteStream): boolean {
  if ('NO_COLOR' in process.env && process.env.NO_COLOR !== '') return false;
  const force = process.env.FORCE_COLOR;
  if (force !== undefined && force !== '' && force !== '0') return true;
  return stream.isTTY === true;
}

/** Colours for text written to stderr (progress, stats, errors). */
export const errColors: Colors = pc.createColors(wantsColor(process.stderr));
/** Colours for text written to stdout (tables, prompts). */
export const outColors: Colors = pc.createColors(wantsColor(process.stdout));

/** One line on stderr. */
export function info(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** Writes to stdout and resolves when the data is flushed (so piping into `head` works). */
export function out(text: string): Promise<void> {
  return new Promise((resolve) => {
    if (process.stdout.write(text)) resolve();
    else process.stdout.once('drain', () => resolve());
  });
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2)} ${units[i]}`;
}

export function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(2)} K`;
  return String(n);
}
